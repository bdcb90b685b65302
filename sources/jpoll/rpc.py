"""Progress monitoring over JSON-RPC: no login, the channel's UUID key is the capability."""

from jsonapi.registry import RpcError, rpc_method

from jpoll import service


class ChannelNotFoundError(RpcError):
    name = "StatusChannelNotFoundError"


@rpc_method
def jpoll_pull_messages(key, since_id=None) -> list[dict]:
    try:
        return service.pull(key, since_id)
    except service.ChannelNotFound as exc:
        raise ChannelNotFoundError(str(exc)) from None
    except service.BadSinceId as exc:
        raise RpcError(str(exc)) from None


@rpc_method
def jpoll_abort(key) -> bool:
    try:
        service.abort(key)
    except service.ChannelNotFound as exc:
        raise ChannelNotFoundError(str(exc)) from None
    return True

"""The JSON-RPC envelope: how any call is received and answered (crds-protocol.md §2)."""

import json

from django.test import Client, override_settings

from jsonapi import registry


def test_form_encoded_raw_json_is_parsed_and_id_echoed(rpc):
    envelope = rpc.raw(json.dumps({"jsonrpc": "1.0", "method": "get_default_context",
                                   "params": ["hst", None], "id": "sync-14.0.3-abc-00000001"}))
    assert envelope == {"jsonrpc": "1.0", "id": "sync-14.0.3-abc-00000001",
                        "result": "hst_0729.pmap", "error": None}


def test_any_path_below_json_dispatches_on_the_body(rpc):
    body = json.dumps({"method": "get_default_context", "params": ["hst"], "id": 7})
    for path in ("/json/", "/json/get_server_info/xyz-1/", "/json/anything", "/json//x/"):
        assert rpc.raw(body, path)["result"] == "hst_0729.pmap", path


def test_csrf_is_not_required_and_no_session_cookie_is_set(db):
    client = Client(enforce_csrf_checks=True)
    response = client.generic("POST", "/json/get_default_context/1/",
                              json.dumps({"method": "get_default_context", "params": ["hst", "edit"], "id": 1}),
                              content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert json.loads(response.content)["result"] == "hst_0729.pmap"
    assert "sessionid" not in response.cookies


def test_missing_trailing_parameters_are_null(rpc):
    assert rpc("get_default_context", "hst") == "hst_0729.pmap"
    assert rpc("get_default_context") == "hst_0729.pmap"


def test_unknown_method(rpc):
    message = rpc.error("no_such_method", 1)
    assert "Unknown method 'no_such_method'" in message


def test_unparseable_bodies_are_json_rpc_errors(rpc):
    """Status 200 and an envelope, whatever arrives; the server still answers afterwards."""
    for body in (b"{not json", b"\xff\xfe\x00", b"", b"[1, 2]", b'"text"', b'{"params": []}',
                 b'{"method": 5}', b'{"method": "get_server_info", "params": "x"}',
                 b'{"method": "get_server_info", "params": [], "id": ' + b"9" * 5000 + b"}",
                 b"[" * 100_000 + b"]" * 100_000,  # deeper than the parser's recursion limit
                 b'{"method": "get_server_info", "params": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"):
        envelope = rpc.raw(body)
        assert envelope["error"]["message"].startswith("InvalidRequestError: "), body
        assert envelope["result"] is None
    assert rpc("get_default_context", "hst") == "hst_0729.pmap"


def test_surplus_parameters_are_an_error(rpc):
    message = rpc.error("get_default_context", "hst", "latest", "extra")
    assert "get_default_context(observatory, state) takes 2 parameters, got 3" in message


def test_ill_typed_parameters_are_an_error(rpc):
    assert "Parameter 'state' of get_default_context must be a string or null, not an integer" in \
        rpc.error("get_default_context", "hst", 5)
    assert "must be a list or null, not a string" in rpc.error("get_file_info_map", "hst", "x.fits", None)
    assert "must be an object, not a list" in rpc.error("get_best_references", "hst_0729.pmap", [], None)
    assert "must be a string, not null" in rpc.error("get_best_references", None, {}, None)
    assert "must be a string, not true or false" in rpc.error("get_context_by_date", True, "hst")


def test_named_parameters_are_accepted(rpc):
    envelope = rpc.raw(json.dumps({"method": "get_default_context",
                                   "params": {"observatory": "hst", "state": "edit"}, "id": 1}))
    assert envelope["result"] == "hst_0729.pmap"
    envelope = rpc.raw(json.dumps({"method": "get_default_context", "params": {"bogus": 1}, "id": 1}))
    assert "Unknown parameter &#x27;bogus&#x27;" in envelope["error"]["message"]


def test_wrong_observatory_is_refused(rpc):
    message = rpc.error("get_default_context", "jwst", None)
    assert "Mismatch between requested observatory 'jwst' and server observatory 'hst'" in message
    assert "Mismatch" in rpc.error("get_file_info_map", "roman", ["x.fits"], None)
    assert rpc("get_default_context", "HST") == "hst_0729.pmap"


def test_oversized_body_is_a_json_rpc_error_with_status_200(rpc):
    body = json.dumps({"method": "get_file_info_map", "params": ["hst", ["a" * 100] * 200, None], "id": 1})
    with override_settings(CRDS_JSONRPC_MAX_BYTES=10_000):
        envelope = rpc.raw(body)
    assert "larger than the limit of 10000 bytes" in envelope["error"]["message"]
    assert rpc("get_default_context", "hst") == "hst_0729.pmap"


def test_oversized_body_with_a_false_content_length_is_still_refused(rpc):
    body = json.dumps({"method": "get_server_info", "params": [], "id": 1, "pad": "x" * 20_000})
    with override_settings(CRDS_JSONRPC_MAX_BYTES=10_000):
        envelope = rpc.raw(body, CONTENT_LENGTH="100")
    assert envelope["error"] is not None


def test_messages_are_html_escaped_and_have_no_paths(rpc):
    message = rpc.envelope("get_context_by_date", "<script>x</script>.pmap", "hst")["error"]["message"]
    assert "<script>" not in message and "&lt;script&gt;" in message
    message = rpc.error("get_mapping_names", "/etc/passwd")
    assert "/etc/" not in message


def test_internal_errors_are_reported_without_traceback(rpc):
    @registry.rpc_method(name="test_explode")
    def explode():
        raise KeyError("/srv/secret/path")

    @registry.rpc_method(name="test_unserializable")
    def unserializable():
        return {1, 2}

    try:
        message = rpc.error("test_explode")
        unserializable_message = rpc.error("test_unserializable")
    finally:
        del registry.METHODS["test_explode"], registry.METHODS["test_unserializable"]
    assert message == unserializable_message == "InternalError: Internal server error; the server log has the details."


def test_get_on_json_lists_the_methods_from_the_registry(client, db):
    response = client.get("/json/")
    assert response.status_code == 200
    page = response.content.decode()
    for name in registry.METHODS:
        assert f"<code>{name}</code>" in page
    assert "(context, header, reftypes)" in page
    assert "Best references for one header" in page


def test_every_client_method_is_registered_or_answers_clearly(rpc):
    from jsonapi import rpc as _  # noqa: F401

    core = ["get_server_info", "get_mapping_names", "get_reference_names", "get_default_context",
            "get_build_context", "get_context_by_date", "get_file_info", "get_file_info_map",
            "list_mappings", "list_references", "get_best_references", "get_best_references_by_header_map",
            "get_required_parkeys", "get_context_history", "push_remote_context", "get_remote_context",
            "get_sqlite_db", "get_system_versions", "get_delivery_status", "file_exists", "get_url",
            "get_mapping_url", "get_reference_url"]
    assert set(core) <= set(registry.METHODS)

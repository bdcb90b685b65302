"""Every JSON-RPC method, each parameter in turn given a hostile value: a clear error, never an internal one.

The values are those that slip past a careless check: a trailing newline (`$` matches before
it), digits that str.isdigit() accepts but int() does not ('²'), non-ASCII digits that int()
does accept, numbers longer than int() parses (4,300 digits), NUL bytes, paths and odd JSON types.
"""

from jsonapi import registry, views

HOSTILE = [
    "9" * 5000, "1.15." + "9" * 5000, "hst-" + "9" * 5000, "hst-acs-" + "9" * 4400, "2020-01-01T" + "9" * 5000,
    "hst_0729.pmap\n", "\u00b2", "\u0661\u0662", "", " ", "\x00", "../x", "/etc/passwd",
    {"a": "9" * 5000}, ["9" * 5000], 10**30, -1, 1.5e308, True,
]


def plausible_params(name: str, count: int) -> list:
    """Valid-looking values for every parameter, so that the hostile one is what gets checked."""
    if name.startswith("get_best_references") or name in ("get_mapping_names", "get_reference_names",
                                                            "get_required_parkeys"):
        return (["hst_0729.pmap", {"INSTRUME": "ACS"}] + [None] * count)[:count]
    return ["hst"] * count


def test_hostile_values_get_a_clear_error_and_the_server_goes_on(rpc):
    internal = []
    for name, method in sorted(registry.METHODS.items()):
        count = len(views.parameter_names(method))
        for position in range(count):
            for value in HOSTILE:
                params = plausible_params(name, count)
                params[position] = value
                error = rpc.envelope(name, *params)["error"]
                if error and error["name"] == "InternalError":
                    internal.append((name, position, repr(value)[:40]))
    assert not internal
    assert rpc("get_default_context", "hst", None).endswith(".pmap")

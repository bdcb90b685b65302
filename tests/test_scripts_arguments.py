"""Every operator script refuses bad arguments with its usage (exit 2) and changes nothing."""

import pytest

BAD_INSTALL_ARGUMENTS = [
    [],
    ["hst"],
    ["hst", "django", "extra"],
    ["hubble", "django"],
    ["hst", "production"],
    ["HST", "django"],
]


@pytest.mark.parametrize("arguments", BAD_INSTALL_ARGUMENTS, ids=lambda a: " ".join(a) or "none")
def test_install_rejects_bad_arguments_with_usage(checkout_copy, arguments):
    result = checkout_copy.run("./install", *arguments)
    assert result.returncode == 2
    assert "usage: ./install <hst|jwst|roman> <django|dev|test|ops>" in result.stderr
    assert not (checkout_copy.root / "site.env").exists()
    assert not (checkout_copy.root / "var").exists()


def test_install_names_the_unknown_value(checkout_copy):
    assert "unknown observatory 'hubble'" in checkout_copy.run("./install", "hubble", "dev").stderr
    assert "unknown usecase 'prod'" in checkout_copy.run("./install", "hst", "prod").stderr


@pytest.mark.parametrize("script", ["./run", "./stop", "./rerun"])
def test_scripts_without_arguments_reject_any(checkout_copy, script):
    result = checkout_copy.run(script, "hst")
    assert result.returncode == 2
    assert result.stderr.startswith(f"usage: {script}")


def test_manage_without_a_command_prints_usage(checkout_copy):
    result = checkout_copy.run("./manage")
    assert result.returncode == 2
    assert "usage: ./manage COMMAND" in result.stderr


@pytest.mark.parametrize("command", [["./run"], ["./stop"], ["./rerun"], ["./manage", "check"]])
def test_scripts_before_install_say_what_to_do(checkout_copy, command):
    result = checkout_copy.run(*command)
    assert result.returncode == 1
    assert "no CRDS server is installed" in result.stderr
    assert "run ./install OBS USECASE first" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (checkout_copy.root / "site.env").exists()


def test_installer_module_rejects_bad_arguments(checkout_copy):
    python = str(checkout_copy.root / ".venv" / "bin" / "python")
    result = checkout_copy.run(python, "-m", "crds_server.installer", "configure", "hst",
                               env={"PYTHONPATH": str(checkout_copy.root / "sources")})
    assert result.returncode == 2
    assert "usage: python -m crds_server.installer" in result.stderr


def test_setup_venv_help(checkout_copy):
    result = checkout_copy.run("tools/setup_venv", "--help")
    assert result.returncode == 0
    assert "create .venv" in result.stdout

"""Plugin loading: installed distributions found through entry points; a broken one never
takes the others down, and ``ftsdk providers`` reports it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ftsdk.errors import PluginError
from ftsdk.plugins import PluginLoadWarning, load_registry

BUILTINS = ["autotrain", "azure", "openai", "trl"]
FTSDK = str(Path(sys.executable).with_name("ftsdk"))


def install(
    site: Path,
    dist: str,
    entry_points: dict[str, str],
    files: dict[str, str],
    group: str = "ftsdk",
) -> None:
    """Install a distribution into ``site`` the way pip lays one out (dist-info + modules)."""
    info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    eps = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[{group}]\n{eps}")
    for rel, text in files.items():
        path = site / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    (info / "RECORD").write_text("".join(f"{rel},,\n" for rel in files))


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A site directory on sys.path (for this process and its children)."""
    path = tmp_path / "site"
    path.mkdir()
    monkeypatch.syspath_prepend(str(path))
    monkeypatch.setenv("PYTHONPATH", str(path))
    return path


def broken(site: Path) -> None:
    install(
        site,
        "ftsdk-broken",
        {"broken": "ftsdk_broken"},
        {"ftsdk_broken/__init__.py": "import no_such_sdk_for_ftsdk\n"},
    )


def providers_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FTSDK_NO_PROGRESS": "1"}
    return subprocess.run(
        [FTSDK, "providers", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_builtins_load_through_their_entry_points() -> None:
    registry = load_registry()
    assert registry.names() == BUILTINS
    assert not registry.failures
    dists = {reg.name: reg.distribution for reg in registry}
    assert dists == {name: f"ftsdk-{name}" for name in BUILTINS}


def test_a_plugin_that_fails_to_import_is_reported_and_the_others_load(site: Path) -> None:
    broken(site)
    with pytest.warns(PluginLoadWarning, match=r"'broken' \(ftsdk-broken\) failed to load"):
        registry = load_registry()
    assert registry.names() == BUILTINS
    [failure] = registry.failures
    assert failure.plugin == "broken"
    assert failure.distribution == "ftsdk-broken"
    assert failure.error == "ModuleNotFoundError: No module named 'no_such_sdk_for_ftsdk'"


def test_cli_lists_the_broken_plugin_with_its_error(site: Path) -> None:
    broken(site)
    text = providers_cli()
    assert text.returncode == 0
    for name in BUILTINS:
        assert f"\n{name} " in "\n" + text.stdout
    assert (
        "FAILED broken (ftsdk-broken): ModuleNotFoundError: No module named 'no_such_sdk_for_ftsdk'"
    ) in text.stderr
    as_json = json.loads(providers_cli("--json").stdout)
    assert [p["name"] for p in as_json["providers"]] == BUILTINS
    assert as_json["failures"][0]["plugin"] == "broken"
    # A third-party failure is not a broken installation of ftsdk itself.
    assert providers_cli("--check").returncode == 0


def test_check_fails_when_a_builtin_is_broken(site: Path) -> None:
    (site / "ftsdk_trl").mkdir()  # shadows the real plugin, as a half-installed one would
    (site / "ftsdk_trl" / "__init__.py").write_text("raise ImportError('trl is half installed')")
    result = providers_cli("--check")
    assert result.returncode == 1
    assert "FAILED trl (ftsdk-trl): ImportError: trl is half installed" in result.stderr
    assert "openai " in result.stdout


def test_a_duplicate_name_names_both_distributions(site: Path) -> None:
    install(
        site,
        "ftsdk-evil-twin",
        {"zz-twin": "ftsdk_twin"},
        {
            "ftsdk_twin/__init__.py": """
        import ftsdk

        class Twin(ftsdk.Provider):
            name = "openai"

        @ftsdk.hookimpl
        def register_providers(register):
            register(Twin)
    """
        },
    )
    with pytest.warns(PluginLoadWarning):
        registry = load_registry()
    [failure] = registry.failures
    assert failure.error == (
        "PluginError: provider name 'openai' from ftsdk-evil-twin is already registered by "
        "ftsdk-openai (ftsdk_openai.provider.OpenAIProvider)"
    )
    assert registry.registration("openai").distribution == "ftsdk-openai"


def test_a_hook_that_raises_or_is_missing_is_a_failure(site: Path) -> None:
    install(
        site,
        "ftsdk-raiser",
        {"raiser": "ftsdk_raiser"},
        {
            "ftsdk_raiser/__init__.py": """
        import ftsdk

        @ftsdk.hookimpl
        def register_providers(register):
            raise RuntimeError("config file missing")
    """
        },
    )
    install(
        site,
        "ftsdk-hookless",
        {"hookless": "ftsdk_hookless"},
        {"ftsdk_hookless/__init__.py": "X = 1\n"},
    )
    with pytest.warns(PluginLoadWarning):
        registry = load_registry()
    errors = {f.plugin: f.error for f in registry.failures}
    assert errors == {
        "hookless": "TypeError: ftsdk_hookless has no @ftsdk.hookimpl register_providers",
        "raiser": "RuntimeError: config file missing",
    }
    assert registry.names() == BUILTINS


def test_allow_and_block_lists(site: Path) -> None:
    broken(site)
    assert load_registry(env={"FTSDK_PLUGINS": "openai, trl"}).names() == ["openai", "trl"]
    blocked = load_registry(env={"FTSDK_DISABLE_PLUGINS": "broken,autotrain"})
    assert blocked.names() == ["azure", "openai", "trl"]
    assert not blocked.failures
    assert len(load_registry(env={"FTSDK_DISABLE_PLUGINS": "__all__"})) == 0


def test_registry_is_lazy_and_shared() -> None:
    code = (
        "import sys, ftsdk\n"
        "assert 'ftsdk.plugins' not in sys.modules\n"
        "assert ftsdk.providers() is ftsdk.providers()\n"
        "print(ftsdk.providers().names())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == str(BUILTINS)


def test_registering_by_hand_validates_at_once() -> None:
    import ftsdk

    registry = ftsdk.ProviderRegistry()

    class Upper(ftsdk.Provider):
        name = "Upper"

    with pytest.raises(PluginError, match=r"Upper.name must match \[a-z\]\[a-z0-9-\]\*"):
        registry.register(Upper)
    with pytest.raises(PluginError, match=r"is not a subclass of ftsdk\.Provider"):
        registry.register(dict)  # type: ignore[arg-type]

    class Liar(ftsdk.Provider):
        name = "liar"
        capabilities = ftsdk.Capabilities(operations=frozenset({ftsdk.Operation.PAUSE}))

    with pytest.raises(
        PluginError, match=r"Liar \(liar\) declares 'pause' but does not implement \['pause_job'\]"
    ):
        registry.register(Liar)

    class LooseOptions(ftsdk.ProviderOptions):
        model_config = {"extra": "allow"}

    class Loose(ftsdk.Provider):
        name = "loose"
        Options = LooseOptions

    with pytest.raises(PluginError, match="extra='forbid'"):
        registry.register(Loose)
    assert len(registry) == 0


def test_plugins_add_commands_to_the_command_line(site: Path) -> None:
    command = """
        import click

        @click.command()
        @click.argument("name")
        def hello(name):
            \"\"\"Say hello.\"\"\"
            click.echo(f"hello {name}")

        @click.command()
        def train():
            click.echo("a plugin's train")
        """
    install(
        site,
        "ftsdk-hello",
        {"hello": "ftsdk_hello:hello", "train": "ftsdk_hello:train", "bad": "ftsdk_bad:x"},
        {"ftsdk_hello.py": command},
        group="ftsdk.cli",
    )
    env = {**os.environ, "FTSDK_NO_PROGRESS": "1"}

    def ftsdk(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [FTSDK, *args],
            capture_output=True,
            text=True,
            env=env | extra,
            timeout=120,
            check=False,
        )

    said = ftsdk("hello", "world")
    assert (said.returncode, said.stdout) == (0, "hello world\n")
    assert "ftsdk command 'bad' (ftsdk_bad:x) failed to load and is skipped" in said.stderr
    listed = ftsdk("--help").stdout
    assert "hello" in listed
    assert "Say hello." in listed
    assert "a plugin's train" not in ftsdk("train", "--help").stdout  # built-ins come first
    blocked = ftsdk("hello", "world", FTSDK_DISABLE_PLUGINS="hello")
    assert blocked.returncode == 2
    assert "No such command 'hello'" in blocked.stderr

"""Find and load every `functions/<name>/main.py` as the functions-framework app Cloud Run would run.

functions-framework's own loader names every module after its file (`main`), so a second
function would replace the first in `sys.modules`; each is imported here by path under a unique
module name instead. The entry point of `functions/<name>/main.py` is `<name>` with `-` -> `_`.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from functions_framework.aio import create_asgi_app_from_module

from sociallab.http.router import Router


@dataclass(frozen=True)
class LoadedFunction:
    name: str
    app: Any  # the ASGI app functions-framework builds for the entry point
    router: Router | None


def load_function(main: Path) -> LoadedFunction:
    name = main.parent.name
    target = name.replace("-", "_")
    module_name = f"sociallab_function_{target}"
    spec = importlib.util.spec_from_file_location(module_name, main)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {main}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    app = create_asgi_app_from_module(target, str(main), "http", module, spec)
    router = getattr(module, "router", None)
    return LoadedFunction(name, app, router if isinstance(router, Router) else None)


def load_functions(directories: list[Path]) -> list[LoadedFunction]:
    """Every function under `directories`, in name order; a name may appear only once."""
    found: dict[str, LoadedFunction] = {}
    for directory in directories:
        for main in sorted(directory.glob("*/main.py")):
            if main.parent.name in found:
                raise ValueError(f"two functions are named {main.parent.name!r}")
            found[main.parent.name] = load_function(main)
    return [found[name] for name in sorted(found)]


class FunctionMount:
    """Route `/<name>` and `/<name>/...` to each function's app, as if it had its own URL."""

    def __init__(self, functions: list[LoadedFunction], fallback: Any) -> None:
        self.apps = {f.name: f.app for f in functions}
        self.fallback = fallback

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            name = scope["path"].lstrip("/").split("/", 1)[0]
            app = self.apps.get(name)
            if app is not None:
                prefix = scope.get("root_path", "") + "/" + name
                path = scope["path"] if scope["path"] != "/" + name else scope["path"] + "/"
                await app({**scope, "root_path": prefix, "path": path}, receive, send)
                return
        await self.fallback(scope, receive, send)

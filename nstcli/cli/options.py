"""One set of style options for every command that runs style transfer.

`nst stylize` declares the options (names, types, help, defaults) once, as its Typer
parameters. Other commands borrow them with `with_options_of`, and every command turns
option values into a `StylizeConfig` with `config_from_options`, so a new stylize option
reaches `nst compare` without being declared or converted twice.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Collection, Mapping
from enum import Enum
from typing import Any, TypeVar

from nstcli.cli.common import parse_layers
from nstcli.engine.config import StylizeConfig
from nstcli.engine.weights import offline_from_env

#: Command parameters that are not style settings (inputs, outputs, output format).
NOT_SETTINGS = frozenset({"content", "style", "output", "quiet", "as_json"})

#: Option name → StylizeConfig field, where they differ.
_FIELD_FOR = {"weights": "weights_file"}

#: Options whose command-line text needs parsing before it is a config value.
_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "style_layers": parse_layers,
    "content_layers": parse_layers,
    "offline": lambda value: bool(value) or offline_from_env(),
}

Command = TypeVar("Command", bound=Callable[..., Any])


def config_from_options(options: Mapping[str, Any], **fields: Any) -> StylizeConfig:
    """The (unresolved) StylizeConfig for a command's option values, keyed by parameter
    name; `fields` set config fields directly and win over options.

    Choice enums become their values; an option that maps to no config field is a
    programming error (a new option needs an entry in `_FIELD_FOR`/`_CONVERTERS`).
    """
    known = {item.name for item in dataclasses.fields(StylizeConfig)}
    values: dict[str, Any] = {}
    for name, value in options.items():
        if name in NOT_SETTINGS:
            continue
        target = _FIELD_FOR.get(name, name)
        if target not in known:
            raise TypeError(f"option {name!r} has no StylizeConfig field to go to")
        if isinstance(value, Enum):
            value = value.value
        values[target] = _CONVERTERS.get(name, lambda v: v)(value)
    return StylizeConfig(**(values | fields))


def with_options_of(
    source: Callable[..., Any], exclude: Collection[str]
) -> Callable[[Command], Command]:
    """Give the decorated command every parameter of `source` except `exclude` (and its
    own), as keyword-only options after its own; it receives them through `**options`.

    Typer reads a command's parameters from `inspect.signature`, which honours
    `__signature__`; the borrowed parameters keep their `Annotated[…, typer.Option(…)]`
    declarations, so names, help and defaults stay exactly those of `source`.
    """

    def decorate(command: Command) -> Command:
        own = inspect.signature(command, eval_str=True)
        kept = [p for p in own.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
        skip = set(exclude) | set(own.parameters)
        borrowed = [
            parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY)
            for name, parameter in inspect.signature(source, eval_str=True).parameters.items()
            if name not in skip
        ]
        command.__signature__ = own.replace(parameters=[*kept, *borrowed])  # type: ignore[attr-defined]
        return command

    return decorate


def borrowed_names(command: Callable[..., Any]) -> list[str]:
    """Names of the parameters `command` took from another command (for help and checks)."""
    signature = inspect.signature(command)
    return [
        name
        for name, parameter in signature.parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    ]

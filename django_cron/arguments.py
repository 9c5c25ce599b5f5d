"""
What arguments a job takes, and which of them an operator may set.

Code is trusted: ``register()`` and the Python API in a site's own code
(``schedule_once()``, ``add_schedule()``) pass what the job's signature takes.
From the operator surface (the admin and the API), arguments reach a job only
where the job declares them:

* a function or a ``Job``: the parameters its signature names. What only
  ``*args`` or ``**kwargs`` would take needs ``operator_kwargs=True`` at
  registration;
* a management command: only the options named in ``operator_options`` at
  registration, by name in ``kwargs``. Each value is parsed by the command's
  own parser, which refuses a bad one with its own message, and the parsed
  value is what is stored and passed.
"""

import argparse
import inspect
import json

from django.core.checks import Error
from django.core.exceptions import ValidationError
from django.core.management import get_commands, load_command_class
from django.core.management.base import BaseCommand, CommandError


def check_binds(definition, args, kwargs) -> None:
    """Raise ValidationError if the job cannot be called with these arguments."""
    if definition.command is not None:
        return  # the command's parser says, at run time, or operator_options() before
    signature, self_ = definition.signature()
    if signature is None:
        return
    if definition.takes_slot and "slot" not in kwargs:
        kwargs = {**kwargs, "slot": None}  # the runner gives it at each run
    try:
        signature.bind(*self_, *args, **kwargs)
    except TypeError as exc:
        raise ValidationError(f"{definition.name} cannot take these arguments: {exc}.") from exc


def operator_arguments(definition, args, kwargs) -> tuple[list, dict]:
    """
    Return the arguments to store for a run of ``definition`` asked for from
    the admin or the API; raise ValidationError, by field ("args", "kwargs"),
    if the job does not declare them.
    """
    if not args and not kwargs:
        return [], {}
    if definition.command is not None:
        return [], _command_options(definition, args, kwargs)
    _declared(definition, args, kwargs)
    return list(args), dict(kwargs)


def _declared(definition, args, kwargs) -> None:
    """Raise ValidationError if an argument would reach only *args or **kwargs."""
    if definition.takes_slot and "slot" in kwargs:
        raise ValidationError(
            {"kwargs": f"{definition.name} is given its slot by the runner, not by an operator."}
        )
    signature, self_ = definition.signature()
    if signature is None:
        if definition.operator_kwargs:
            return
        raise ValidationError(
            {
                "args": f"{definition.name}'s signature cannot be read, so it takes no arguments "
                "from the admin or the API (register it with operator_kwargs=True to allow any)."
            }
        )
    # The runner gives the slot: an operator's positional argument cannot take its place.
    given = {**kwargs, "slot": None} if definition.takes_slot else kwargs
    try:
        bound = signature.bind(*self_, *args, **given)
    except TypeError as exc:
        raise ValidationError(
            {"args": f"{definition.name} cannot take these arguments: {exc}."}
        ) from exc
    if definition.operator_kwargs:
        return
    parameters = list(signature.parameters.values())[len(self_) :]
    named = [p.name for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    for name, value in bound.arguments.items():
        kind = signature.parameters[name].kind
        if kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD) and value:
            field = "args" if kind is inspect.Parameter.VAR_POSITIONAL else "kwargs"
            raise ValidationError(
                {
                    field: f"From the admin or the API, {definition.name} takes only the arguments "
                    f"its signature names ({', '.join(named) or 'none'}). Register it with "
                    "operator_kwargs=True to let operators pass others."
                }
            )


# Management commands ------------------------------------------------------------------


def command_parser(name: str):
    """Return the argument parser of the management command ``name``, as call_command() does."""
    app = get_commands()[name]
    command = app if isinstance(app, BaseCommand) else load_command_class(app, name)
    return command.create_parser("", name)


def _option_name(action) -> str:
    """The name call_command() takes for an option besides its dest: "--no-color" is no_color."""
    return min(action.option_strings).lstrip("-").replace("-", "_")


def options_named(parser, names) -> dict:
    """Return {dest: action} for the options of ``parser`` that ``names`` names; KeyError if not."""
    found = {}
    for name in names:
        for action in parser._actions:
            if action.option_strings and (
                name in action.option_strings or name in (action.dest, _option_name(action))
            ):
                found[action.dest] = action
                break
        else:
            raise KeyError(name)
    return found


def _as_argv(action, value, what: str) -> list:
    """Return ``value`` for ``action`` as command-line words; ValidationError if it cannot be."""
    flag = action.option_strings[-1]
    if action.nargs == 0:  # a switch: store_true, store_false, store_const, count
        if not isinstance(value, bool):
            raise ValidationError({"kwargs": f"{what} is a switch: give true or false."})
        return [flag] if value else []
    values = value if isinstance(value, list) else [value]
    if not all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in values):
        raise ValidationError({"kwargs": f"{what} takes text or numbers."})
    if action.nargs in (None, "?"):
        if isinstance(value, list) and not isinstance(action, argparse._AppendAction):
            raise ValidationError({"kwargs": f"{what} takes one value, not a list."})
        # flag=value: a value that starts with "-" stays a value, never another option.
        return [f"{flag}={v}" for v in values]
    return [flag, *map(str, values)]


def _command_options(definition, args, kwargs) -> dict:
    name = definition.command
    if args:
        raise ValidationError(
            {
                "args": f"{definition.name} takes no positional arguments from the admin or the "
                'API: give the options it allows by name in kwargs, such as {"indent": 2}.'
            }
        )
    allowed = definition.operator_options
    if not allowed:
        raise ValidationError(
            {
                "kwargs": f"{definition.name} takes no arguments from the admin or the API. "
                "register_command(..., operator_options=['--indent']) names the options an "
                "operator may set."
            }
        )
    parser = command_parser(name)
    permitted = options_named(parser, allowed)
    argv, asked = _permitted_argv(definition, parser, permitted, kwargs)
    positional = [str(arg) for arg in definition.args[1:]]
    try:
        baseline = vars(parser.parse_args(positional))
        parsed = vars(parser.parse_args(positional + argv))
    except CommandError as exc:
        raise ValidationError({"kwargs": f"{name}: {exc}"}) from exc
    changed = [dest for dest in parsed if parsed[dest] != baseline.get(dest)]
    if any(dest not in permitted for dest in changed):  # never, but the parser has the last word
        only = f"{definition.name}: only {', '.join(allowed)} may be set."
        raise ValidationError({"kwargs": only})
    options = {dest: parsed[dest] for dest in asked}
    try:
        json.dumps(options, allow_nan=False)
    except (TypeError, ValueError) as exc:
        unstorable = f"{name}'s parser gives values that cannot be stored: {exc}."
        raise ValidationError({"kwargs": unstorable}) from exc
    return options


def _permitted_argv(definition, parser, permitted, kwargs) -> tuple[list, dict]:
    """Return the command line for ``kwargs``, and {dest: action} asked; refuse other options."""
    argv, asked = [], {}
    for key, value in kwargs.items():
        try:
            ((dest, action),) = options_named(parser, [key]).items()
        except KeyError:
            dest = action = None
        if dest not in permitted:
            raise ValidationError(
                {
                    "kwargs": f"{definition.name} does not let operators set {key!r}; "
                    f"they may set {', '.join(definition.operator_options)}."
                }
            )
        argv += _as_argv(action, value, f"{key!r}")
        asked[dest] = action
    return argv, asked


def check_operator_options(definition) -> list:
    """Check that operator_options names options of the job's command."""
    name, wanted = definition.name, definition._option("operator_options")
    if wanted is None:
        return []

    def error(problem, hint):
        return Error(f"Job {name!r} {problem}.", hint=hint, obj=name, id="django_cron.E017")

    if definition.command is None:
        return [
            error(
                "sets operator_options, which only a management command has",
                "Give a function or a Job operator_kwargs=True, or register_command() a command.",
            )
        ]
    if isinstance(wanted, str) or not all(isinstance(option, str) for option in wanted):
        return [error(f"has operator_options {wanted!r}", "Give a list: ['--indent'].")]
    try:
        parser = command_parser(definition.command)
    except Exception as exc:
        return [error(f"runs the command {definition.command!r}, which cannot load: {exc!r}", "")]
    unknown = []
    for option in wanted:
        try:
            options_named(parser, [option])
        except KeyError:
            unknown.append(option)
    if not unknown:
        return []
    known = [action.option_strings[-1] for action in parser._actions if action.option_strings]
    return [
        error(
            f"lets operators set {', '.join(map(repr, unknown))}, which "
            f"{definition.command} has no option of",
            f"Name options of {definition.command}: {', '.join(known)}.",
        )
    ]

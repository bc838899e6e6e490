"""Typed props: every prop of every public construct is checked for type before its value.

A construct written in Python gets none of jsii's argument checks: ``ephemeral="false"`` is truthy and
deletes the keys, ``public_access_cidrs="203.0.113.0/24"`` is read one character at a time. One class
decorator, :func:`typed_props`, reads each constructor's annotations and checks every argument before
the constructor runs; each constructor then checks values (validation.py) as before.

A construct's props are one frozen object (:class:`Props`: ``ClusterProps``, ``MonitoringProps``...),
typed by the same decorator and validated as a whole when it is made. The construct takes it as
``props=...`` or, as jsii does for CDK's own structs, takes its fields as keyword arguments: a constructor
``(scope, construct_id, *, props: XProps | None = None, **kwargs)`` under :func:`typed_props` shows and
checks ``XProps``' fields as its own keyword arguments, and :func:`props_from` turns either into the object.
A keyword argument that is no prop (the verifier's deprecated ``cluster=``) stands before ``**kwargs``,
typed like the others; it may not share a field's name.
"""
from __future__ import annotations

import collections.abc
import contextvars
import dataclasses
import difflib
import enum
import functools
import inspect
import re
import sys
import types
import typing
from typing import Any, Mapping, TypeVar

from aws_cdk import Duration, Token

from .validation import EnvelopeConfigError, Problem, Problems

_Class = TypeVar("_Class", bound=type)
_Props = TypeVar("_Props", bound="Props")
#: Constructor arguments that are not props.
_NOT_PROPS = frozenset({"self", "scope", "construct_id"})
#: Set while a construct builds its props object from keyword arguments: it validates them itself, in
#: context, so that every problem (also those only the stack can tell) comes in one error.
_DEFERRED = contextvars.ContextVar("eks_envelope_props_deferred", default=False)


class Props:
    """Base of the props objects: a frozen dataclass, typed by :func:`typed_props`, validated as a whole.

    A subclass (``@typed_props`` above ``@dataclass(frozen=True)``) implements :meth:`check`, which adds
    every problem of its values to ``problems`` with field, value and fix. Making the object runs it and
    raises one :class:`EnvelopeConfigError` for all of them; the construct that takes the object runs it
    again with what only it knows (its stack's region). Lists become tuples: the object stays frozen.
    """

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, field.name)
            if isinstance(value, list):
                object.__setattr__(self, field.name, tuple(value))
        if not _DEFERRED.get():
            self.validate()

    def check(self, problems: Problems) -> None:
        """Add every problem of these props to ``problems`` (nothing by default)."""

    def validate(self, **context: Any) -> None:
        """Raise one EnvelopeConfigError with every problem of these props; ``context`` goes to :meth:`check`."""
        problems = Problems()
        self.check(problems, **context)
        problems.raise_if_any()


def props_from(props_class: type[_Props], props: _Props | None, kwargs: Mapping[str, Any], owner: object,
               missing_fixes: Mapping[str, str] | None = None) -> _Props:
    """The props object a construct works from: ``props``, or one made of its keyword arguments, never both.

    Made from keyword arguments, the object is not validated yet: the construct calls ``validate`` with
    its context, so that every problem comes in one error. Unknown or missing keyword arguments raise
    Python's TypeError, naming the construct (and the prop meant, when a name is close to one); a missing
    one named in ``missing_fixes`` (a required prop that another argument could have given) is a problem
    with that fix instead, all of them in one EnvelopeConfigError.
    """
    construct = type(owner).__name__
    if props is not None and kwargs:
        raise EnvelopeConfigError([Problem(
            "props", f"{type(props).__name__}(...) and {', '.join(sorted(kwargs))}",
            f"give either props={props_class.__name__}(...) or keyword arguments, not both: put "
            f"{', '.join(sorted(kwargs))} into the props object (dataclasses.replace(props, {next(iter(sorted(kwargs)))}=...))",
        )])
    if props is not None:
        return props
    fields = {f.name: f for f in dataclasses.fields(props_class)}  # type: ignore[arg-type]
    for name in kwargs:
        if name not in fields:
            close = difflib.get_close_matches(name, list(fields), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise TypeError(f"{construct}() got an unexpected keyword argument {name!r}{hint}")
    missing = [n for n, f in fields.items() if n not in kwargs and f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING]
    fixes, known = Problems(), missing_fixes or {}
    for name in missing:
        if name in known:
            fixes.add(name, None, known[name])
    fixes.raise_if_any()
    if missing:
        raise TypeError(f"{construct}() missing required keyword argument(s): {', '.join(map(repr, missing))}")
    token = _DEFERRED.set(True)
    try:
        return props_class(**kwargs)
    finally:
        _DEFERRED.reset(token)


def typed_props(cls: _Class) -> _Class:
    """Class decorator: check every argument of ``cls.__init__`` against its annotation, first.

    Every mismatch is collected (field, value received, fix) and raised once as
    :class:`EnvelopeConfigError`, before the constructor runs. On a dataclass (put it above
    ``@dataclass``), fields are named ``<Class>.<field>``. On a construct that takes a props object's
    fields as keyword arguments (:func:`flattened_props`), those are checked as its own, by field name,
    and its signature shows them. Unresolved tokens pass: a string token is a ``str``, a number token a
    ``float`` standing for an ``int``.
    """
    init = cls.__init__
    signature = inspect.signature(init)
    owner = f"{cls.__name__}." if hasattr(cls, "__dataclass_fields__") else ""
    flattened = flattened_props(cls)
    if flattened is not None:
        signature = _flattened_signature(signature, flattened)
    bind = signature.bind_partial if flattened is not None else signature.bind

    @functools.wraps(init)
    def checked_init(self: Any, *args: Any, **kwargs: Any) -> None:
        try:
            bound = bind(self, *args, **kwargs)
        except TypeError:
            return init(self, *args, **kwargs)  # a missing or unknown argument: Python's own message
        hints = prop_hints(cls)
        problems = Problems()
        for name, value in bound.arguments.items():
            if name not in _NOT_PROPS and name in hints:
                for suffix, bad, fix in type_problems(value, hints[name]):
                    problems.add(f"{owner}{name}{suffix}", bad, fix)
        problems.raise_if_any()
        return init(self, *args, **kwargs)

    if flattened is not None:
        checked_init.__signature__ = signature  # type: ignore[attr-defined]
    cls.__init__ = checked_init  # type: ignore[method-assign]
    return cls


def flattened_props(cls: type) -> type | None:
    """``XProps`` when ``cls.__init__`` is ``(..., *, props: XProps | None = None, **kwargs)``, else None."""
    init = inspect.unwrap(cls.__init__)
    parameters = inspect.signature(init).parameters
    if "props" not in parameters or not any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        return None
    hint = typing.get_type_hints(init).get("props")
    options = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    found = [o for o in options if isinstance(o, type) and dataclasses.is_dataclass(o)]
    return found[0] if found else None


def _flattened_signature(signature: inspect.Signature, props_class: type) -> inspect.Signature:
    """The constructor's signature with ``**kwargs`` replaced by the props object's fields, keyword-only.

    Its other arguments (``props``, and one that is no prop, such as a deprecated argument) stay as they are;
    one named like a field would hide the field, so it is refused when the class is defined.
    """
    fields = [
        inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, annotation=f.type, default=_default(f))
        for f in dataclasses.fields(props_class)
    ]
    kept = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
    shadowed = sorted({p.name for p in kept} & {f.name for f in fields})
    if shadowed:
        raise TypeError(f"{props_class.__name__} has the field(s) {', '.join(shadowed)}: the constructor takes them "
                        "through **kwargs, not as arguments of its own")
    return signature.replace(parameters=[*kept, *fields])


def _default(field: dataclasses.Field) -> Any:
    """A field's default as a signature shows it: its value, the factory's value, or none (required)."""
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return inspect.Parameter.empty


@functools.lru_cache(maxsize=None)
def prop_hints(cls: type) -> dict[str, Any]:
    """The type of every prop of ``cls``: a dataclass's fields, a constructor's arguments and, when the
    constructor takes a props object's fields as keyword arguments, those fields too."""
    # Annotations are strings (``from __future__ import annotations``): resolved once, in their module.
    if hasattr(cls, "__dataclass_fields__"):
        return typing.get_type_hints(cls)
    hints = typing.get_type_hints(inspect.unwrap(cls.__init__))
    flattened = flattened_props(cls)
    return {**typing.get_type_hints(flattened), **hints} if flattened is not None else hints


def type_problems(value: Any, hint: Any, path: str = "") -> list[tuple[str, Any, str]]:
    """``(path suffix, value, fix)`` for each part of ``value`` that is not of type ``hint``; [] when it is.

    Understood: bool (strictly: no strings, no numbers), int (not bool), float, str, Optional/unions,
    sequences (a bare string is refused), mappings, enums, classes and jsii interfaces (``kms.IKey``,
    ``ec2.IVpc``...: what the object implements, as jsii knows it). Anything else passes unchecked.
    """
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any or hint is object:
        return []
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        if value is None:
            return [] if len(options) < len(args) else [(path, value, f"give {_describe(hint)}")]
        results = [type_problems(value, option, path) for option in options]
        if any(not r for r in results):
            return []
        if len(options) == 1:
            return results[0]
        return [(path, value, f"give {' or '.join(_describe(o) for o in options)}")]
    if origin in (collections.abc.Sequence, collections.abc.Iterable, list, tuple):
        item = args[0] if args else Any
        if isinstance(value, str) and item is str:
            return [(path, value, f"pass a list, e.g. [{value!r}], not a bare string (read one character at a time)")]
        if not isinstance(value, (list, tuple)):
            return [(path, value, f"give a list of {_describe(item)}")]
        return [p for i, v in enumerate(value) for p in type_problems(v, item, f"{path}[{i}]")]
    if origin in (collections.abc.Mapping, dict):
        if not isinstance(value, collections.abc.Mapping):
            return [(path, value, f"give a dict of {_describe(args[0]) if args else 'keys'} to {_describe(args[1]) if args else 'values'}")]
        key_hint, value_hint = args or (Any, Any)
        return [p for k, v in value.items()
                for p in (*type_problems(k, key_hint, f"{path}[{k!r}]"), *type_problems(v, value_hint, f"{path}[{k!r}]"))]
    if hint is bool:
        if isinstance(value, bool):
            return []
        if isinstance(value, str):
            return [(path, value, f"give True or False, not the string {value!r} (Python reads any non-empty string as true)")]
        return [(path, value, "give True or False")]
    if hint is int:
        if (isinstance(value, int) and not isinstance(value, bool)) or _is_number_token(value):
            return []
        if isinstance(value, bool):
            return [(path, value, "give a whole number, not True or False")]
        if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
            return [(path, value, f"give the number {int(value)}, not the string {value!r}")]
        if isinstance(value, float) and value.is_integer():
            return [(path, value, f"give a whole number: {int(value)}")]
        return [(path, value, "give a whole number (int)")]
    if hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [] if ok else [(path, value, "give a number")]
    if hint is str:
        if isinstance(value, str):
            return []
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return [(path, value, f"pass a string like {str(value)!r}")]
        return [(path, value, "give a string")]
    if isinstance(hint, type):
        return [] if _is_instance(value, hint) else [(path, value, _type_fix(value, hint))]
    return []


def _is_number_token(value: Any) -> bool:
    return isinstance(value, float) and Token.is_unresolved(value)


def _is_instance(value: Any, hint: type) -> bool:
    if not getattr(hint, "_is_protocol", False) and isinstance(value, hint):
        return True
    fqn = vars(hint).get("__jsii_type__")
    return isinstance(fqn, str) and fqn in _jsii_types(value)


def _jsii_types(value: Any) -> set[str]:
    """The jsii type names ``value`` is or implements: its classes, their interfaces and their parents.

    An imported resource (``Key.from_key_arn``) is a jsii dynamic proxy whose ``_delegates`` are
    interface proxies; a Python wrapper that forwards attributes to one is read through it too.
    """
    classes = list(type(value).__mro__)
    for delegate in _attribute(value, "_delegates", ()):
        classes.extend(type(delegate).__mro__)
    interfaces = [i for c in classes for i in vars(c).get("__jsii_ifaces__", ())]
    interfaces.extend(_attribute(value, "__jsii_ifaces__", ()))
    names = {vars(c).get("__jsii_type__") for c in (*classes, *(m for i in interfaces for m in i.__mro__))}
    return {n for n in names if isinstance(n, str)}


def _attribute(value: Any, name: str, default: Any) -> Any:
    try:
        found = getattr(value, name, default)
    except Exception:  # a jsii object may answer an unknown attribute with a kernel error
        return default
    return found if isinstance(found, (list, tuple)) else default


def _describe(hint: Any) -> str:
    if hint is type(None):
        return "None"
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if origin in (collections.abc.Sequence, collections.abc.Iterable, list, tuple):
        return f"a list of {_describe(args[0]) if args else 'values'}"
    if origin is not None:
        return _describe(origin)
    names = {bool: "True or False", int: "a whole number", float: "a number", str: "a string"}
    if hint in names:
        return names[hint]
    return _type_name(hint) if isinstance(hint, type) else str(hint)


def _type_name(cls: type) -> str:
    """``aws_kms.IKey`` for aws-cdk-lib types, ``eks_envelope.VerifierOptions`` for ours."""
    module = cls.__module__
    if module.startswith("aws_cdk."):
        module = module[len("aws_cdk."):]
    elif module.startswith("eks_envelope"):
        module = "eks_envelope"
    return f"{module}.{cls.__qualname__}" if module not in ("builtins",) else cls.__qualname__


def _type_fix(value: Any, hint: type) -> str:
    fix = f"give {'an' if _type_name(hint)[0] in 'aeiouAEIOU' else 'a'} {_type_name(hint)}"
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        example = next(iter(hint.__members__))
        return f"{fix}, e.g. {hint.__qualname__}.{example}"
    if hint is Duration and isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{fix}, e.g. Duration.minutes({value:g}) (a bare number has no unit)"
    importer = _importer_for(hint) if isinstance(value, str) else None
    if importer:
        return f"{fix}; for an ARN or name use {importer}(scope, id, ...)"
    return fix


def _importer_for(hint: type) -> str | None:
    """``aws_kms.Key.from_key_arn`` for ``aws_kms.IKey``: how a user turns a string into the interface."""
    name = hint.__name__
    implementation = getattr(sys.modules.get(hint.__module__), name[1:] if re.match(r"^I[A-Z]", name) else name, None)
    importers = [m for m in dir(implementation) if m.startswith("from_")] if implementation is not None else []
    preferred = [m for m in importers if m.endswith("_arn")] or importers
    return f"{_type_name(implementation)}.{preferred[0]}" if preferred else None

"""``@frozen_dataclass`` behaves as ``@dataclass(frozen=True, slots=True)``: checked on every
record type that uses it and on a class with every kind of field it supports, against a
dataclass made the ordinary way from the same fields."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from forensics import records
from forensics.frozen import frozen_dataclass

ROOT = Path(__file__).resolve().parents[1]


def _post_init(self: Any) -> None:
    if self.count < 0:
        raise ValueError("negative")


@frozen_dataclass
class Sample:
    """Every kind of field the decorator supports."""

    name: str
    count: int = 0
    tags: dict[str, str] = dataclasses.field(default_factory=dict)
    hidden: str = dataclasses.field(default="h", repr=False)
    loose: float = dataclasses.field(default=0.5, compare=False)
    derived: int = dataclasses.field(default=7, init=False)
    late: str = dataclasses.field(default="k", kw_only=True)

    def __post_init__(self) -> None:
        _post_init(self)


LAZY = [Sample] + [
    c
    for c in vars(records).values()
    if isinstance(c, type) and dataclasses.is_dataclass(c) and c.__module__ == records.__name__
]


def _reference(cls: type) -> type:
    """The same fields through the ordinary ``@dataclass(frozen=True, slots=True)``."""
    ns: dict[str, Any] = {"__annotations__": {}, "__module__": cls.__module__, "__qualname__": cls.__qualname__}
    if hasattr(cls, "__post_init__"):
        ns["__post_init__"] = _post_init
    for f in dataclasses.fields(cls):
        ns["__annotations__"][f.name] = f.type
        ns[f.name] = dataclasses.field(
            default=f.default,
            default_factory=f.default_factory,
            init=f.init,
            repr=f.repr,
            hash=f.hash,
            compare=f.compare,
            kw_only=f.kw_only,
        )
    return dataclasses.dataclass(frozen=True, slots=True)(type(cls.__name__, (), ns))


def _args(cls: type, salt: int) -> tuple[list[Any], dict[str, Any]]:
    """Values for every field the constructor takes: required ones and (odd salt) the rest."""
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for i, f in enumerate(dataclasses.fields(cls)):
        if not f.init:
            continue
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if required or salt % 2:
            value = f"{f.name}-{salt}-{i}" if f.name != "count" else salt
            if f.kw_only:
                kwargs[f.name] = value
            else:
                args.append(value)
        elif not f.kw_only:
            break  # positional after a default: keep the rest at their defaults
    return args, kwargs


def _hash(x: object) -> object:
    try:
        return hash(x)
    except TypeError as e:  # a dict among the fields: unhashable, as the ordinary dataclass is
        return str(e)


@pytest.mark.parametrize("cls", LAZY, ids=lambda c: c.__name__)
def test_a_lazy_frozen_dataclass_behaves_as_the_ordinary_one(cls: type) -> None:
    ref = _reference(cls)
    assert [(f.name, f.default, f.init, f.repr, f.compare, f.hash, f.kw_only) for f in dataclasses.fields(cls)] == [
        (f.name, f.default, f.init, f.repr, f.compare, f.hash, f.kw_only) for f in dataclasses.fields(ref)
    ]
    assert cls.__match_args__ == ref.__match_args__
    assert cls.__slots__ == ref.__slots__
    for salt in (1, 2):
        args, kwargs = _args(cls, salt)
        a, r = cls(*args, **kwargs), ref(*args, **kwargs)
        assert repr(a) == repr(r)
        assert a == cls(*args, **kwargs) and a != r  # another class is never equal (as dataclass does)
        assert _hash(a) == _hash(r)
        assert pickle.loads(pickle.dumps(a)) == a and copy.deepcopy(a) == a
        with pytest.raises(dataclasses.FrozenInstanceError):
            a.__setattr__(dataclasses.fields(cls)[0].name, None)
        with pytest.raises(dataclasses.FrozenInstanceError):
            a.__delattr__(dataclasses.fields(cls)[0].name)
        first = dataclasses.fields(cls)[0].name
        assert dataclasses.replace(a, **{first: getattr(a, first)}) == a
        assert dataclasses.astuple(a) == dataclasses.astuple(r)
    assert str(inspect.signature(cls)) == str(inspect.signature(ref))
    with pytest.raises(TypeError):
        cls(*range(len(dataclasses.fields(cls)) + 2))


def test_fields_that_do_not_compare_are_left_out_and_post_init_runs() -> None:
    assert Sample("a", loose=1.0) == Sample("a", loose=2.0)
    assert Sample("a", hidden="x") != Sample("a", hidden="y")
    assert "hidden" not in repr(Sample("a")) and Sample("a").derived == 7
    assert Sample("a").tags is not Sample("a").tags
    with pytest.raises(ValueError, match="negative"):
        Sample("a", -1)


def test_the_record_types_write_no_comparison_or_repr_at_import() -> None:
    """What the decorator is for: importing the records writes only __init__ and the frozen
    __setattr__/__delattr__, not __repr__, __eq__ and __hash__."""
    code = (
        "import dataclasses, numpy\n"
        "made = []\n"
        "real = dataclasses._create_fn\n"
        "dataclasses._create_fn = lambda name, *a, **k: made.append(name) or real(name, *a, **k)\n"
        "import forensics.records\n"
        "print(sorted(set(made)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.split() == ["['__delattr__',", "'__init__',", "'__setattr__']"], out.stdout


def test_a_field_without_default_after_one_with_is_refused_as_dataclass_refuses_it() -> None:
    with pytest.raises(TypeError, match="non-default argument 'b' follows default argument"):

        @frozen_dataclass
        class Bad:
            """Refused at definition, not at the first instance."""

            a: int = 0
            b: int

"""The visit life-cycle engine: where a transaction may start and where it leads, read from
lifecycle.yaml. Simulators keep a visit's state and history; suites ask what is allowed when.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .model import Machine, Transition

SAME = "$same"


@dataclass(frozen=True)
class Step:
    """One transaction applied to a visit: the history a simulator keeps."""

    infno: str
    before: str
    after: str


class LifecycleError(Exception):
    """The transaction is not allowed in this state; ``error`` is the catalogue code to answer with."""

    def __init__(self, infno: str, state: str, error: str = "E4002") -> None:
        self.infno, self.state, self.error = infno, state, error
        super().__init__(f"{infno} is not allowed in state {state} ({error})")


def _undo(state: str, undone: str, infno: str, history: Sequence[Step]) -> str:
    """The state before the most recent ``undone`` step, if the visit is still where it led."""
    for step in reversed(history):
        if step.infno == undone:
            if step.after != state:
                break
            return step.before
    raise LifecycleError(infno, state)


def _apply(t: Transition, state: str, guards: Mapping[str, bool], history: Sequence[Step]) -> str:
    if t.undoes:
        return _undo(state, t.undoes, t.infno, history)
    if isinstance(t.to, Mapping):
        return next(target for guard, target in t.to.items() if guard == "otherwise" or guards.get(guard))
    return state if t.to == SAME else str(t.to)


def next_state(
    machine: Machine,
    state: str,
    infno: str,
    *,
    guards: Mapping[str, bool] | None = None,
    history: Sequence[Step] = (),
) -> str:
    """The state after ``infno``, or :class:`LifecycleError` with the error to answer."""
    guards = guards or {}
    candidates = [t for t in machine.transitions if t.infno == infno]
    for t in candidates:
        if t.undoes or (state in t.from_states and (not t.when or guards.get(t.when))):
            return _apply(t, state, guards, history)
    refusal = next((t.refuse[state] for t in candidates if state in t.refuse), "E4002")
    raise LifecycleError(infno, state, refusal)


def reverse(machine: Machine, state: str, oinfno: str, *, history: Sequence[Step] = ()) -> str:
    """The state after a 2601 reversal of ``oinfno``."""
    t = machine.reversal.get(oinfno)
    if t is None:
        raise LifecycleError("2601", state, "E6003")
    if t.undoes:
        return _undo(state, t.undoes, "2601", history)
    if state not in t.from_states:
        raise LifecycleError("2601", state, t.refuse.get(state, "E4002"))
    return _apply(t, state, {}, history)


def allowed(machine: Machine, state: str, *, history: Sequence[Step] = ()) -> list[str]:
    """The transactions a visit in ``state`` may take now (guards assumed satisfiable)."""
    out = []
    for t in machine.transitions:
        if t.infno in out:
            continue
        try:
            next_state(machine, state, t.infno, guards={g: True for g in _guards(t)}, history=history)
        except LifecycleError:
            continue
        out.append(t.infno)
    return out


def _guards(t: Transition) -> set[str]:
    return ({t.when} if t.when else set()) | (
        set(t.to) - {"otherwise"} if isinstance(t.to, Mapping) else set()
    )

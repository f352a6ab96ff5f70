"""State machines written as tables: (state, event) -> next state, and nothing else is legal.

The emulator has two lifecycles, an invocation's and an execution environment's. Each is one
`TransitionTable`; code moves a state only through `advance`, so a move the table does not list
fails loudly (`IllegalTransition`) instead of leaving the emulator in a state nobody designed.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Generic, TypeVar

State = TypeVar("State", bound=Hashable)


class IllegalTransition(RuntimeError):
    """A state machine was asked for a move its table does not allow: a bug, not a fault."""


class TransitionTable(Generic[State]):
    def __init__(self, name: str, moves: Mapping[tuple[State, str], State], final: frozenset[State]) -> None:
        self.name = name
        self.moves = dict(moves)
        self.final = final
        for state, _ in self.moves:
            if state in final:
                raise ValueError(f"{name}: final state {state} cannot have moves")

    def advance(self, state: State, event: str) -> State:
        """The state after `event` in `state`; raises IllegalTransition when the table has no move."""
        try:
            return self.moves[(state, event)]
        except KeyError:
            raise IllegalTransition(f"{self.name}: no move for {event!r} in state {state}") from None

    def allows(self, state: State, event: str) -> bool:
        return (state, event) in self.moves

    def is_final(self, state: State) -> bool:
        return state in self.final

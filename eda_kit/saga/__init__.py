"""Sagas: long-running work across services, undone step by step when it fails.

orchestrator  Saga, Step, SagaResult: run the steps, retry, compensate newest first,
              resume from the log after a crash
log           the saga log: one event per transition in the stream saga-<id>
faults        inject_faults: make steps fail, time out or crash, on purpose
choreography  the same order flow with no orchestrator: services reacting on a bus
"""

from ..errors import InjectedFault, SagaNotFound, StepTimeout
from .choreography import run_order_choreography
from .faults import SimulatedCrash, inject_faults
from .orchestrator import STATUSES, FailedStep, Saga, SagaContext, SagaResult, Step

__all__ = [
    "Saga",
    "Step",
    "SagaResult",
    "SagaContext",
    "FailedStep",
    "STATUSES",
    "StepTimeout",
    "SagaNotFound",
    "inject_faults",
    "InjectedFault",
    "SimulatedCrash",
    "run_order_choreography",
]

"""Sagas: long-running work across services, undone step by step when it fails.

steps         Step (compensatable, pivot, retriable), Backoff, SagaContext
orchestrator  Saga, SagaResult: run the steps, retry, compensate newest first (unknown
              outcomes too), go only forward past the pivot, resume from the log
log           the saga log: one event per transition in the stream saga-<id>
lease         one worker at a time: leases in the log, a heartbeat, takeover after expiry
recovery      Saga.unfinished(store) and the RecoveryWorker that finishes abandoned sagas
faults        inject_faults: make steps fail, time out or crash, on purpose
choreography  the same order flow with no orchestrator: services reacting on a bus
"""

from ..errors import (
    InjectedFault,
    LeaseLost,
    OutcomeUnknown,
    SagaBusy,
    SagaNotFound,
    StepTimeout,
)
from .choreography import run_order_choreography
from .faults import SimulatedCrash, inject_faults
from .lease import ManualClock, SystemClock
from .orchestrator import STATUSES, FailedStep, Saga, SagaResult
from .recovery import Recovered, RecoveryWorker, UnfinishedSaga
from .steps import COMPENSATABLE, KINDS, PIVOT, RETRIABLE, Backoff, SagaContext, Step

__all__ = [
    "Saga",
    "Step",
    "Backoff",
    "SagaResult",
    "SagaContext",
    "FailedStep",
    "STATUSES",
    "KINDS",
    "COMPENSATABLE",
    "PIVOT",
    "RETRIABLE",
    "StepTimeout",
    "OutcomeUnknown",
    "SagaBusy",
    "LeaseLost",
    "SagaNotFound",
    "UnfinishedSaga",
    "RecoveryWorker",
    "Recovered",
    "ManualClock",
    "SystemClock",
    "inject_faults",
    "InjectedFault",
    "SimulatedCrash",
    "run_order_choreography",
]

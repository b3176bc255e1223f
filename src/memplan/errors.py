"""Errors a user can act on. The CLI prints the message on one line and exits non-zero;
tracebacks are for bugs."""


class MemplanError(Exception):
    exit_code = 2


class ModelError(MemplanError):
    """The model file cannot be read or planned as given."""


class PlanError(MemplanError):
    """A plan cannot be made (bad options, unknown algorithm, infeasible capacity)."""


class InputError(MemplanError):
    """A problem file, device file or option value is malformed."""

"""How the workflows call activities: one retry policy (business refusals are never retried)
and one start-to-close timeout."""

from datetime import timedelta

from temporalio.common import RetryPolicy

from domain.enums import ErrorType

RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
    non_retryable_error_types=[e.value for e in ErrorType],
)
ACTIVITY_TIMEOUT = timedelta(seconds=30)
# A refund the provider keeps failing (it is down) is given up after this many attempts and
# handed to operations (an alert), rather than retried for ever.
REFUND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=8,
    non_retryable_error_types=[e.value for e in ErrorType],
)

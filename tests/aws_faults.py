"""AWS calls seen and bent from the test side, through botocore's own event hooks: a log of calls and a plan of faults."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from types import SimpleNamespace

SECRET_KEYS = ("AccessKeyId", "SecretAccessKey", "SessionToken", "aws_access_key_id", "aws_secret_access_key")


def _events(client_or_session):
    """The event emitter of a boto3 client, or of a boto3 session (for the clients it creates afterwards)."""
    return client_or_session.meta.events if hasattr(client_or_session, "meta") else client_or_session.events


@dataclass
class CallLog:
    """The AWS operations called, in order, with their arguments (secrets and payloads removed)."""

    calls: list[tuple[str, dict]] = field(default_factory=list)
    services: list[str] = field(default_factory=list)

    def attach(self, client_or_session) -> CallLog:
        _events(client_or_session).register("provide-client-params.*.*", self._record)
        return self

    def _record(self, params, model, event_name="", **kwargs):
        self.services.append(event_name.split(".")[1] if event_name.count(".") >= 2 else "")
        self.calls.append((model.name, {key: value for key, value in params.items() if key not in SECRET_KEYS and key != "Body"}))

    def operations(self, service: str | None = None) -> list[str]:
        """Operation names in call order, optionally of one service ("sagemaker", "s3", "sagemaker-runtime")."""
        return [name for (name, _), owner in zip(self.calls, self.services, strict=True) if service in (None, owner)]

    def arguments(self, operation: str) -> list[dict]:
        """The arguments of every call of `operation`, in order."""
        return [params for name, params in self.calls if name == operation]


class FaultPlan:
    """Errors raised by chosen calls, answers given in place of calls that moto lacks, and actions after calls.

    Attach it to a boto3 session before the clients are made (clients copy the session's hooks when made).
    """

    def __init__(self):
        self.counts: Counter = Counter()
        self._errors: dict[str, tuple[int, BaseException]] = {}
        self._answers: dict = {}
        self._after: dict = {}
        self._params: dict[str, dict] = {}

    def attach(self, client_or_session) -> FaultPlan:
        events = _events(client_or_session)
        events.register("provide-client-params.*.*", self._remember)
        events.register("before-call.*.*", self._before)
        events.register("after-call.*.*", self._after_call)
        return self

    def raise_on(self, operation: str, error: BaseException, call: int = 1) -> None:
        """The `call`-th call of `operation` (counted from now) raises `error` instead of reaching AWS."""
        self._errors[operation] = (self.counts[operation] + call, error)

    def answer(self, operation: str, function) -> None:
        """Calls of `operation` get `function(params)` as their answer without reaching AWS; it may raise, or
        return None to let the call through."""
        self._answers[operation] = function

    def after(self, operation: str, function) -> None:
        """After each call of `operation`, `function(params, answer)` runs."""
        self._after[operation] = function

    def _remember(self, params, model, **kwargs):
        self._params[model.name] = dict(params)

    def _before(self, model, **kwargs):
        self.counts[model.name] += 1
        planned = self._errors.get(model.name)
        if planned and planned[0] == self.counts[model.name]:
            raise planned[1]
        if model.name in self._answers:
            parsed = self._answers[model.name](self._params.get(model.name, {}))
            if parsed is None:
                return None
            return SimpleNamespace(status_code=200, headers={}), parsed | {"ResponseMetadata": {"HTTPStatusCode": 200}}
        return None

    def _after_call(self, model, parsed, **kwargs):
        if model.name in self._after:
            self._after[model.name](self._params.get(model.name, {}), parsed)


def client_error(code: str, message: str, operation: str):
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 400}}, operation)


def stop_first_refuse_rest(stopped: list[str]):
    """An answer for StopTrainingJob, which moto lacks: SageMaker's answer for the first job (its name goes to
    `stopped`), a refusal for every later one."""

    def stop(params):
        if stopped:
            raise client_error("ValidationException", "The job cannot be stopped now", "StopTrainingJob")
        stopped.append(params["TrainingJobName"])
        return {}

    return stop

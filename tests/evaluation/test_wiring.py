"""Evaluation's wiring: the tester runs with the configured settings, test sets are sized by the training upload
limit, and the job watcher's notices are held by the tests of finished jobs."""

from __future__ import annotations

from pathlib import Path

from bot.evaluation.eval_sets import EvalSets
from bot.evaluation.job_tests import JobTests
from bot.evaluation.model_test import ModelTester
from bot.evaluation.settings import EvaluationSettings
from bot.evaluation.wiring import install
from bot.finetuning.awaiting_confirm import PreparedDatasets
from bot.finetuning.settings import TrainingSettings
from bot.finetuning.tokens import TokenCounter
from bot.finetuning.watcher import JobWatcher
from bot.llm.chat import ChatModel
from bot.llm.references import References
from bot.llm.settings import LLMSettings
from bot.llm.usage import UsageLedger
from bot.store.corrections import CorrectionStore
from bot.store.database import Database
from bot.store.guilds import GuildSettingsStore
from bot.store.jobs import JobStore
from bot.store.model_tests import ModelTestStore
from bot.wiring import Wiring
from tests.store.test_jobs import new, remote
from tests.test_wiring import Registry


class Watcher:
    """The job watcher as evaluation hooks onto it: the gate its notices wait for."""

    def __init__(self) -> None:
        self.gate: JobTests | None = None
        self.pokes = 0

    def hold_notices(self, gate: JobTests) -> None:
        self.gate = gate
        gate.when_ready(self.poke)

    def poke(self) -> None:
        self.pokes += 1


async def test_finished_jobs_notices_wait_for_their_tests_and_test_sets_follow_the_settings(
    db: Database, tmp_path: Path
) -> None:
    wiring = Wiring(Registry())
    evaluation = EvaluationSettings(max_questions=7, judge_model="judge-x")
    training = TrainingSettings(max_upload_mb=3.0)
    wiring.add(EvaluationSettings, evaluation)
    wiring.add(TrainingSettings, training)
    wiring.add(LLMSettings, LLMSettings())
    for store in (ModelTestStore, CorrectionStore, GuildSettingsStore):
        wiring.add(store, store(db))  # type: ignore[arg-type]
    for service in (ChatModel, References, UsageLedger):
        wiring.add(service, object())  # type: ignore[arg-type]  # reached only when a test runs
    wiring.add(PreparedDatasets, PreparedDatasets(tmp_path / "prepared", ttl_s=60))
    wiring.add(TokenCounter, TokenCounter(workers=1))
    watcher = wiring.add(JobWatcher, Watcher())  # type: ignore[arg-type]
    install(wiring)
    try:
        assert wiring.get(ModelTester).settings is evaluation
        assert wiring.get(EvalSets).max_upload_bytes == 3 * 1024 * 1024
        gate = watcher.gate  # type: ignore[attr-defined]
        assert isinstance(gate, JobTests)
        jobs = JobStore(db)
        failed = await jobs.update_from_remote((await jobs.add(new(status="running"))).id, remote("failed"))
        assert await gate.ready(failed)  # no model to test: announced at once
    finally:
        await wiring.close()

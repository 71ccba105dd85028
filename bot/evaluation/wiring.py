"""Model evaluation's services in lightbulb's DI: the model tester, test sets, and the tests of finished training
jobs, which hold the job watcher's notices (bot/finetuning) until each new model is tested."""

from __future__ import annotations

from bot.evaluation.eval_sets import EvalSets
from bot.evaluation.job_tests import JobTests
from bot.evaluation.model_test import ModelTester
from bot.evaluation.settings import EvaluationSettings
from bot.finetuning.awaiting_confirm import PreparedDatasets
from bot.finetuning.settings import TrainingSettings
from bot.finetuning.tokens import TokenCounter
from bot.finetuning.watcher import JobWatcher
from bot.llm.chat import ChatModel
from bot.llm.references import References
from bot.llm.settings import LLMSettings
from bot.llm.usage import UsageLedger
from bot.store.corrections import CorrectionStore
from bot.store.guilds import GuildSettingsStore
from bot.store.model_tests import ModelTestStore
from bot.wiring import Stage, Wiring


def install(wiring: Wiring) -> None:
    settings, training, llm = wiring.get(EvaluationSettings), wiring.get(TrainingSettings), wiring.get(LLMSettings)
    store = wiring.get(ModelTestStore)
    tester = wiring.add(
        ModelTester,
        ModelTester(
            wiring.get(ChatModel),
            store,
            wiring.get(CorrectionStore),
            wiring.get(References),
            llm=llm,
            training=training,
            settings=settings,
            ledger=wiring.get(UsageLedger),
        ),
    )
    wiring.add(EvalSets, EvalSets(store, wiring.get(PreparedDatasets), wiring.get(TokenCounter), training, settings))
    job_tests = JobTests(tester, store, wiring.get(GuildSettingsStore), llm.default_model)
    wiring.get(JobWatcher).hold_notices(job_tests)
    wiring.on_close(Stage.WORK, job_tests.close)

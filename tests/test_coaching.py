"""The model-written parts of a turn: the critique (verified against the grade's facts, dropped to the
grader's feedback when it does not hold up) and the follow-up (one on-topic question that does not give the
answer away, else the bank's). Scripted chat models pin the logic down on the real grader and embedder;
tests/test_coach_model.py runs our trained adapter through llama.cpp.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from interview_coach.coach import Coach
from interview_coach.coaching import coach_split, critique_messages, follow_up_messages, grade_facts
from interview_coach.critique import Coaching
from interview_coach.index import Index
from interview_coach.interview import InterviewSession, SessionConfig
from interview_coach.llm import ChatModel

pytestmark = pytest.mark.slow

PARTIAL = "LayerNorm normalises each token over its own features."


class Scripted(ChatModel):
    """Replies with the text scripted for the prompt's kind (critique / follow-up / answer)."""

    def __init__(self, **replies: str):
        self.replies = replies
        self.prompts: list[str] = []
        self.avoided: list[tuple[str, ...]] = []
        self.budgets: list[int] = []

    def stream(self, messages, max_tokens=256, temperature=0.0, avoid=()) -> Iterator[str]:
        system = messages[0].content
        self.prompts.append(messages[-1].content)
        self.avoided.append(tuple(avoid))
        self.budgets.append(max_tokens)
        kind = "critique" if "coach" in system else "follow_up" if "interviewer" in system else "answer"
        for word in self.replies.get(kind, "").split(" "):
            yield word + " "


@pytest.fixture(scope="module")
def home(tmp_path_factory, embeddings):
    import shutil

    from conftest import FIXTURES
    from interview_coach.settings import Settings

    root = tmp_path_factory.mktemp("coaching")
    shutil.copytree(FIXTURES / "corpus", root / "corpus")
    settings = Settings.load({}, home=root / "home", corpus_dir=root / "corpus")
    Index(settings, embeddings=embeddings).ingest()
    return settings


def coach_with(settings, embeddings, **replies) -> Coach:
    return Coach(settings, embeddings=embeddings, chat_model=Scripted(**replies))


def test_grade_facts_put_wrong_claims_first_and_quote_the_candidate():
    from interview_coach.grading import CheckClaim, Grade, PointResult

    grade = Grade("q-layernorm", "Why LayerNorm?", "answer", 20,
                  covered=[PointResult("LayerNorm normalises each token over its features.", True, 0.8,
                                       evidence="It normalises every token on its own.")],
                  missed=[PointResult("It does not depend on batch statistics.", False, 0.1,
                                      excerpt="No batch statistics are needed.")],
                  wrong=[CheckClaim("LayerNorm normalises across the batch", "a common mistake",
                                    "LayerNorm normalises each token over its own features", kind="misconception")])
    facts = grade_facts(grade)
    assert [f.kind for f in facts] == ["wrong", "covered", "missed"]
    assert [f.n for f in facts] == [1, 2, 3]
    assert '"LayerNorm normalises across the batch"' in facts[0].text and "Correct: LayerNorm" in facts[0].text
    assert '"It normalises every token on its own."' in facts[1].text
    assert facts[2].text == "Missed: It does not depend on batch statistics. The notes say: No batch statistics are needed."
    # A covered point is verified without the candidate's words; other facts with their whole text.
    assert facts[1].evidence == "Covered: LayerNorm normalises each token over its features."
    assert facts[2].evidence == facts[2].text
    prompt = critique_messages(grade.question, grade.score, facts)[-1].content
    assert all(f"[{f.n}] {f.text}" in prompt for f in facts) and "Score: 20/100" in prompt


def partial_grade(coach):
    """(grade of the partial LayerNorm answer, its first covered fact, its first missed fact, that missed
    point in lower case without its full stop)."""
    grade = coach.grade("q-layernorm", PARTIAL)
    facts = grade_facts(grade)
    missed = next(f for f in facts if f.kind == "missed")
    covered = next(f for f in facts if f.kind == "covered")
    point = missed.text.split("Missed: ", 1)[1].split(" The notes say")[0].rstrip(".")
    return grade, covered, missed, point[0].lower() + point[1:]


def test_a_supported_critique_is_shown_with_its_fact_numbers(home, embeddings):
    coach = coach_with(home, embeddings)
    grade, covered, missed, point = partial_grade(coach)
    coach.chat_model.replies["critique"] = (f"You explained that LayerNorm normalises each token over its "
                                            f"features [{covered.n}]. Add that {point} [{missed.n}].")
    tokens = []
    written = coach.coaching.critique(grade, on_token=tokens.append)
    assert tokens, "the critique streams"
    assert written.by_model and written.kept == 2
    assert f"[{missed.n}]" in written.text
    assert written.to_dict()["facts"][0]["n"] == 1


def test_the_critique_length_is_a_setting(home, embeddings):
    from interview_coach.errors import ConfigError
    from interview_coach.settings import Settings

    default = coach_with(home, embeddings, critique="Fine.")
    default.coaching.critique(partial_grade(default)[0])
    short = coach_with(Settings.load({"COACH_CRITIQUE_TOKENS": "40"}, home=home.home, corpus_dir=home.corpus_dir),
                       embeddings, critique="Fine.")
    short.coaching.critique(partial_grade(short)[0])
    assert (default.chat_model.budgets, short.chat_model.budgets) == ([120], [40])
    with pytest.raises(ConfigError, match="COACH_CRITIQUE_TOKENS"):
        Settings.load({"COACH_CRITIQUE_TOKENS": "3"})


def test_an_invented_critique_falls_back_to_the_graders_feedback(home, embeddings):
    coach = coach_with(home, embeddings, critique=(
        "You should mention that LayerNorm was invented at Bell Labs in 1987 [1]. "
        "Transformers need GPUs with 80 GB of memory to train [2]."))
    grade = coach.grade("q-layernorm", PARTIAL)
    written = coach.coaching.critique(grade)
    assert not written.by_model
    assert written.text == grade.feedback
    assert written.sentences and written.kept == 0


def test_praise_for_a_missed_point_is_not_kept(home, embeddings):
    """The judge sees that the words match "Missed: X"; who gets the credit is checked on the fact's kind."""
    coach = coach_with(home, embeddings)
    grade, covered, missed, point = partial_grade(coach)
    coach.chat_model.replies["critique"] = (f"You correctly explained that {point} [{missed.n}]. "
                                            f"You also explained that LayerNorm normalises each token over its "
                                            f"features [{covered.n}].")
    written = coach.coaching.critique(grade)
    assert [s.supported for s in written.sentences] == [False, True]
    assert str(written.sentences[0].code) == "praises-a-gap"
    assert point.lower() not in written.text.lower() or not written.by_model


def test_saying_the_candidate_made_a_missed_point_is_not_kept(home, embeddings):
    """"You mentioned X" is false when X was missed; "you did not mention X" is the right thing to say."""
    coach = coach_with(home, embeddings)
    grade, _, missed, point = partial_grade(coach)
    coach.chat_model.replies["critique"] = (f"You mentioned that {point} [{missed.n}]. "
                                            f"You did not mention that {point} [{missed.n}].")
    written = coach.coaching.critique(grade)
    assert [s.supported for s in written.sentences] == [False, True]
    assert str(written.sentences[0].code) == "praises-a-gap"


def test_praise_words_are_avoided_only_when_nothing_was_covered(home, embeddings):
    coach = coach_with(home, embeddings, critique="Add that LayerNorm normalises each token [1].")
    coach.coaching.critique(coach.grade("q-layernorm", "Paris is the capital of France, on the Seine."))
    assert "correctly" in coach.chat_model.avoided[-1]
    grade, *_ = partial_grade(coach)
    assert any(f.kind == "covered" for f in grade_facts(grade))
    coach.coaching.critique(grade)
    assert coach.chat_model.avoided[-1] == ()


def test_a_covered_point_is_not_checked_against_the_candidates_own_words(home, embeddings):
    """The candidate's quote shows what they said, not what is true: its "doesn't" must not make a correct
    restatement of the covered point look like a flipped negation."""
    from interview_coach.grading import Grade, PointResult

    coach = coach_with(home, embeddings, critique=(
        "You explained that LayerNorm normalises each token over its own features [1]."))
    grade = Grade("q-layernorm", "Why LayerNorm?", "answer", 60, covered=[PointResult(
        "LayerNorm normalises each token over its own features.", True, 0.8,
        evidence="LayerNorm doesn't look at the batch; it normalises each token over its own features.")])
    written = coach.coaching.critique(grade)
    assert written.by_model and written.kept == 1
    from interview_coach.judge import EvidenceJudge
    from interview_coach.verification import verify
    against_quote = verify(coach.chat_model.replies["critique"], [grade_facts(grade)[0].text], EvidenceJudge(embeddings))
    assert str(against_quote[0].code) == "negation"  # what the heuristic judge said of this correct sentence


def test_the_follow_up_is_the_models_question_when_it_probes_the_weak_point(home, embeddings):
    coach = coach_with(home, embeddings, follow_up="You said LayerNorm works per token; what goes wrong "
                                                   "with BatchNorm when sequences are padded?")
    grade = coach.grade("q-layernorm", PARTIAL)
    written = coach.coaching.follow_up(grade, PARTIAL)
    assert written.by_model and written.text.endswith("?")
    assert "padded" in written.text
    assert "Candidate's answer: " + PARTIAL in coach.chat_model.prompts[-1]


@pytest.mark.parametrize("reply, why", [
    ("LayerNorm normalises over features.", "not a question"),
    ("What is the capital of France and who won the football world cup in 1998?", "off-topic"),
    ("Why do Transformers use LayerNorm rather than BatchNorm?", "repeats the question"),
])
def test_a_bad_follow_up_gives_way_to_the_banks(home, embeddings, reply, why):
    coach = coach_with(home, embeddings, follow_up=reply)
    grade = coach.grade("q-layernorm", PARTIAL)
    written = coach.coaching.follow_up(grade, PARTIAL)
    assert not written.by_model
    assert written.text == grade.follow_up and written.rejected == why


def test_a_follow_up_that_states_the_missed_point_is_rejected(home, embeddings):
    coach = coach_with(home, embeddings)
    grade = coach.grade("q-layernorm", PARTIAL)
    point = grade.missed[0].point.rstrip(".")
    coach.chat_model.replies["follow_up"] = f"Is it true that {point[0].lower() + point[1:]}?"
    written = Coaching(coach.chat_model, coach.judge, coach.embeddings).follow_up(grade, PARTIAL)
    assert not written.by_model and written.rejected == "gives the answer away"


def test_the_interview_asks_the_models_follow_up_and_says_so(home, embeddings, tmp_path):
    from interview_coach.store import Store

    coach = coach_with(home, embeddings, follow_up="You mentioned per-token statistics; what breaks for "
                                                   "BatchNorm when sentences have different lengths and padding?")
    store = Store.open(home)
    config = SessionConfig(tracks=["transformers"], difficulty=None, n_questions=2, mode="practice")
    session = InterviewSession.start(coach, config, store=store, seed=1)
    while session.current.question_id != "q-layernorm":
        session.skip()
    feedback = session.answer(PARTIAL)
    # The grade comes back with the bank's follow-up; the model rewrites it after the grade is shown.
    assert feedback.next_turn.kind == "follow_up" and feedback.next_turn.question == feedback.grade.follow_up
    assert session.write_follow_up()
    assert feedback.next_turn.question.startswith("You mentioned per-token statistics")
    assert session.current is feedback.next_turn and feedback.next_turn.turn_id in session.model_follow_ups
    stored = store.turn(feedback.next_turn.turn_id)
    assert stored["question"].startswith("You mentioned per-token statistics")  # a resume asks the same
    assert not session.write_follow_up()  # once
    written = session.critique(feedback.grade)
    assert written.text  # the grader's feedback at least: the scripted model wrote no critique
    store.close()


def test_follow_up_prompts_cut_long_answers():
    messages = follow_up_messages("What is LayerNorm?", "word " * 500, "")
    assert len(messages[-1].content.split()) < 120 and "a deeper aspect" in messages[-1].content


def test_the_split_holds_out_whole_questions():
    ids = [f"q-{i}" for i in range(2000)]
    splits = [coach_split(i) for i in ids]
    assert splits == [coach_split(i) for i in ids]  # stable
    share = {s: splits.count(s) / len(ids) for s in ("train", "dev", "test")}
    assert 0.06 < share["test"] < 0.14 and 0.06 < share["dev"] < 0.14

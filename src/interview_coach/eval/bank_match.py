"""Which bank question free text is graded against (rubric.RubricBuilder.CLOSE_QUESTION), measured on
eval/datasets/question_paraphrases.jsonl: one person's phrasing of each bank question, and questions the
bank does not ask. A right match grades with the bank's key points and misconceptions; a wrong one
grades against another question (worse than the notes' own rubric, so the choice costs it twice).

    .venv/bin/python -m interview_coach.eval.bank_match    # the grid, per split; choose on dev
"""

from __future__ import annotations

from dataclasses import dataclass

from .data import QuestionParaphrase, load_paraphrases

GRID = tuple(round(0.55 + 0.01 * k, 2) for k in range(26))
WRONG_COST = 2


@dataclass(frozen=True)
class MatchCounts:
    threshold: float
    items: int
    right: int       # a paraphrase matched to its own bank question
    wrong: int       # matched to another bank question, or any bank question for one the bank lacks
    paraphrases: int

    @property
    def objective(self) -> int:
        return self.right - WRONG_COST * self.wrong


def closest(builder, items: list[QuestionParaphrase]) -> list[tuple[str, float]]:
    """(closest bank id, cosine) per item, compared as RubricBuilder.build compares them."""
    sims = builder.bank_similarities([it.question for it in items])
    ids = [q.id for q in builder.corpus.questions]
    return [(ids[int(row.argmax())], float(row.max())) for row in sims]


def count(items: list[QuestionParaphrase], matches: list[tuple[str, float]], threshold: float) -> MatchCounts:
    right = wrong = 0
    for it, (bank_id, cosine) in zip(items, matches):
        if cosine >= threshold:
            right += bank_id == it.bank_id
            wrong += bank_id != it.bank_id
    return MatchCounts(threshold, len(items), right, wrong, sum(it.bank_id is not None for it in items))


def main() -> None:
    from ..coach import Coach
    from ..settings import Settings

    builder = Coach(Settings.load()).grader.rubrics
    items = load_paraphrases()
    matches = closest(builder, items)
    for split in ("dev", "test"):
        chosen = [(it, m) for it, m in zip(items, matches) if it.split == split]
        print(f"{split}: {len(chosen)} questions; threshold, right, wrong, right - {WRONG_COST} x wrong")
        for t in GRID:
            c = count([it for it, _ in chosen], [m for _, m in chosen], t)
            mark = "  <- shipped" if t == builder.CLOSE_QUESTION else ""
            print(f"  {t:.2f}  {c.right:4d}  {c.wrong:3d}  {c.objective:4d}{mark}")


if __name__ == "__main__":
    main()

"""How a candidate's answer is read before grading (text.answer_sentences) and how rubric points are
taken from notes (rubric.note_sections, rubric.answer_claims): markdown, lists, LaTeX and repetition."""

from __future__ import annotations

from interview_coach.rubric import answer_claims, note_sections
from interview_coach.text import answer_sentences


def test_markdown_lists_and_headings_become_plain_sentences():
    answer = ("## Why scale\n"
              "1. The dot product has **variance** $d_k$\n"
              "2. Divide by $\\sqrt{d_k}$ so it is `1`\n"
              "- softmax saturates otherwise")
    assert answer_sentences(answer) == ["Why scale.", "The dot product has variance d_k.",
                                        "Divide by sqrt(d_k) so it is 1.", "softmax saturates otherwise."]


def test_latex_fractions_tables_and_code_fences_read_as_text():
    answer = ("```python\nx = 1\n```\n"
              "| metric | meaning |\n|---|---|\n| EER | where FAR equals FRR |\n"
              "The step is $\\frac{\\eta}{\\sqrt{v} + \\epsilon}$ times m.")
    sentences = answer_sentences(answer)
    assert "x = 1." in sentences
    assert "EER , where FAR equals FRR." in sentences
    assert "The step is (eta)/(sqrt(v) + epsilon) times m." in sentences
    assert not any("|" in s or "```" in s or "\\" in s for s in sentences)


def test_latex_spacing_and_adjacent_commands_keep_words_apart():
    answer = ("2. **Gradients.** Log loss gives $\\nabla_w = (p - y)\\,x$, proportional to the error. "
              "L1 adds \\(\\lambda\\sum|w_j|\\) to the loss.")
    assert answer_sentences(answer) == ["Gradients.", "Log loss gives nabla_w = (p - y) x, proportional to the error.",
                                        "L1 adds lambda sum|w_j| to the loss."]


def test_pipes_outside_a_table_are_maths_and_stay():
    sentences = answer_sentences("KL(P || Q) is not KL(Q || P) in general.\n| norm | ||w||_2 |\nIts size is |x|.")
    assert sentences == ["KL(P || Q) is not KL(Q || P) in general.", "norm , ||w||_2.", "Its size is |x|."]


def test_a_sentence_said_many_times_counts_once():
    once = "Bagging averages independent trees. Boosting adds trees one after another."
    assert answer_sentences(" ".join([once] * 300)) == answer_sentences(once)
    assert answer_sentences("   \n\n") == []


def test_note_sections_and_the_claims_a_rubric_may_use():
    body = ("# Title\n\n## Short answer\nA random forest averages deep trees trained on bootstrap samples. "
            "Pitfalls:\n\n## Pitfalls and follow-ups\n- Impurity importance is biased.\n")
    sections = note_sections(body)
    assert list(sections) == ["Short answer", "Pitfalls and follow-ups"]
    # The run-in label "Pitfalls:" is not a claim; the whole statement is.
    assert answer_claims(sections["Short answer"]) == [
        "A random forest averages deep trees trained on bootstrap samples."]

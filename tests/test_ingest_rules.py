"""The rule sets `imr ingest` reads letters with: NegEx-style negation (engine/ingest/negation.py),
request lines into items (requests.py), guideline bases (basis.py) and names to vocabulary keys."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, strategies as st

from engine.ingest.basis import parse_basis
from engine.ingest.names import Names
from engine.ingest.negation import PRE_NEGATION, assertion, find
from engine.ingest.requests import parse_request

FI = re.compile(r"(?i)functional (?:benefit|improvement)")


def _of(sentence: str, pattern=FI) -> list[str]:
    return [stated for _, stated in find(sentence, pattern)]


@pytest.mark.parametrize("sentence, expected", [
    ("Review of submitted physician reports show no evidence of functional benefit, unchanged complaints.", "negated"),
    ("It appears the employee has received significant therapy sessions without demonstrated evidence of functional improvement.", "negated"),
    ("He reported functional improvement with prior therapy.", "affirmed"),
    ("The patient denies numbness but reports functional improvement.", "affirmed"),  # "but" ends the scope of "denies"
    ("There was no increase in pain and functional improvement was noted.", "affirmed"),  # a pseudo-trigger
    ("Functional improvement was not documented.", "negated"),  # a trigger after the concept
    ("Therapy is to rule out functional improvement.", "possible"),
    ("No acute distress; he describes functional improvement.", "affirmed"),  # a clause ends the scope
    ("There is no report of acute flare-up, new injuries, or change in symptoms and no functional benefit.", "negated"),
])
def test_negation_table(sentence, expected):
    assert _of(sentence) == [expected]


def test_denies_and_without():
    numb = re.compile(r"(?i)numbness")
    assert _of("She denies numbness or tingling.", numb) == ["negated"]
    assert _of("Walking without numbness.", numb) == ["negated"]
    assert _of("She reports numbness in the hands.", numb) == ["affirmed"]


@given(st.sampled_from(PRE_NEGATION), st.lists(st.sampled_from(["clear", "documented", "objective", "any", "the"]), max_size=3))
def test_a_trigger_close_before_a_concept_never_affirms_it(trigger, filler):
    """Whatever few words stand between a negation trigger and the concept, it is not affirmed."""
    sentence = f"There is {trigger} {' '.join(filler)} functional improvement."
    start = sentence.index("functional improvement")
    assert assertion(sentence, start, start + len("functional improvement")) != "affirmed"


@pytest.fixture(scope="module")
def names(engine):
    return Names(engine.base.vocabulary)


@pytest.mark.parametrize("line, fields", [
    ("Physical therapy 2 times a week for 4 weeks for the lumbar spine",
     {"type": "therapy", "service": "physical_therapy", "region": "lumbar", "frequency_per_week": 2, "duration_weeks": 4}),
    ("Chiropractic treatment x 6 for the cervical spine", {"type": "therapy", "service": "chiropractic", "region": "cervical", "visits": 6}),
    ("Acupuncture 12 sessions for the lumbar spine", {"type": "therapy", "service": "acupuncture", "region": "lumbar", "visits": 12}),
    ("Physical therapy 2x6 for the right knee",
     {"type": "therapy", "service": "physical_therapy", "region": "knee", "frequency_per_week": 2, "duration_weeks": 6}),
    ("Physical therapy 12 visits over 6 weeks for the shoulder",
     {"type": "therapy", "service": "physical_therapy", "region": "shoulder", "visits": 12, "duration_weeks": 6, "frequency_per_week": 2}),
    ("Work hardening 10 sessions (80 hours) for the lumbar spine",
     {"type": "therapy", "service": "work_hardening", "region": "lumbar", "hours": 80, "visits": 10}),
    ("Chronic pain management program 80 hours", {"type": "therapy", "service": "functional_restoration", "region": "other", "hours": 80, "visits": 10}),
    ("Lumbar transforaminal epidural steroid injection at L4-5 and L5-S1, 2 levels",
     {"type": "procedure", "service": "epidural_steroid_injection", "region": "lumbar", "levels": 2, "approach": "transforaminal"}),
    ("TENS unit 30 day rental", {"type": "procedure", "service": "tens_unit", "region": "other", "acquisition": "rental"}),
    ("Tramadol ER 150mg #30 with 2 refills",
     {"type": "medication", "compounded": False, "form": "oral", "ingredients": [{"drug": "tramadol"}], "quantity": "30", "refills": 2}),
    ("Flurbiprofen 20% cream 120g",
     {"type": "medication", "compounded": False, "form": "topical", "ingredients": [{"drug": "flurbiprofen", "strength": "20%"}], "quantity": "120 g"}),
    ("Compounded medication: Ketoprofen 10%, Gabapentin 6%, Bupivacaine 5%, Baclofen 2%, Cyclobenzaprine 2%, Clonidine 0.2%, "
     "Sodium Hyaluronate 0.2% 300g with 3 refills",
     {"type": "medication", "compounded": True, "form": "topical", "quantity": "300 g", "refills": 3, "ingredients": [
         {"drug": "ketoprofen", "strength": "10%"}, {"drug": "gabapentin", "strength": "6%"}, {"drug": "bupivacaine", "strength": "5%"},
         {"drug": "baclofen", "strength": "2%"}, {"drug": "cyclobenzaprine", "strength": "2%"}, {"drug": "clonidine", "strength": "0.2%"},
         {"drug": "sodium_hyaluronate", "strength": "0.2%"}]}),
    ("MRI of the lumbar spine", {"type": "procedure", "service": "mri", "region": "lumbar"}),
])
def test_request_lines(line, fields, names):
    parsed = parse_request(line, names)
    assert parsed.problem is None and parsed.fields == fields


def test_derived_values_say_how_they_were_read(names):
    assert "80 hours" in parse_request("Chronic pain management program 80 hours", names).notes["visits"]
    assert "topical" in parse_request("Compounded medication: Ketoprofen 10%, Gabapentin 6% 120g", names).notes["form"]
    assert "vocabulary" in parse_request("MRI of the lumbar spine", names).notes["service"]


@pytest.mark.parametrize("line", ["Physical therapy for the knee", "Naproxen", "Compounded medication: Ketoprofen 10%"])
def test_request_lines_that_cannot_be_items(line, names):
    assert parse_request(line, names).problem


def test_basis():
    [pt] = parse_basis("Decision based on MTUS Chronic Pain Treatment Guidelines Physical Therapy, pages 98-99.")
    assert (pt.guideline, pt.document, pt.section, pt.pages) == ("MTUS", "Chronic Pain Medical Treatment Guidelines", "Physical Therapy", "98-99")
    mtus, odg = parse_basis("Decision based on MTUS Chronic Pain Treatment Guidelines Passive therapy. Decision based on "
                            "Non-MTUS Citation Official Disability Guidelines (ODG), Low Back Chapter.")
    assert (mtus.guideline, odg.guideline, odg.section) == ("MTUS", "ODG", "Low Back Chapter")
    [page] = parse_basis("Decision based on MTUS Chronic Pain Treatment Guidelines Page(s): 111-113.")
    assert page.pages == "111-113" and page.short() == "MTUS Chronic Pain Medical Treatment Guidelines, pp. 111-113"


def test_names_come_from_the_vocabulary(names):
    """Key words rank before the title ("Work conditioning / work hardening" keeps work hardening
    for its own key), initialisms only in capitals, procedures by every word of a title's spelling."""
    assert names.service("Work hardening 10 sessions").key == "work_hardening"
    assert names.service("additional PT").key == "physical_therapy"
    assert names.service("a pt with pain") is None
    assert names.procedure("left L4-5 lumbar decompression") == "lumbar_discectomy_laminectomy"
    assert names.procedure("ACDF at C5-6") == "cervical_fusion"
    assert names.procedure("laminectomy") is None  # no region: not unambiguous

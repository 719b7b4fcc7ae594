"""Latin-script and mixed-script names found the way users type them, on every backend."""

import pytest

from services.search import analysis, documents, service
from services.search.backend import SearchBackend
from tests.search.test_contract import ADMIN, DATASET, NO_CONTACTS, customer, find, names

LATIN = [
    customer(101, "Acme（上海）贸易有限公司", contact="John Smith", emails=("John.Smith@acme.com",)),
    customer(102, "ACME", contact="李娜"),
    customer(103, "Acne Studios", contact="Emma Brown"),
    customer(104, "IBM中国", contact="Mary Johnson", emails=("mary.johnson@cn.ibm.com",)),
    customer(105, "宝马(BMW)", contact="Hans Müller", emails=("hans.mueller@bmw.de",)),
    customer(106, "Müller Bau GmbH", contact="Jürgen Groß"),
    customer(107, "ＴＣＬ科技集团", contact="王伟"),
    customer(108, "3M中国有限公司", contact="David Lee"),
    customer(109, "Hewlett-Packard（中国）有限公司", contact="Sarah O'Brien"),
    customer(110, "L'Oréal中国", contact="Chloé Martin"),
    customer(111, "Smith & Nephew医疗器械", contact="张伟"),
    customer(112, "Peter Smith", kind="individual", contact="Peter Smith"),
    customer(113, "Société Générale上海分行", contact="François Dubois"),
    customer(114, "西门子(Siemens)中国", contact="Klaus Schmidt", emails=("klaus.schmidt@siemens.com",)),
    customer(115, "SIEMENS", contact="刘洋"),
]


@pytest.fixture
def latin(backend: SearchBackend) -> SearchBackend:
    every = DATASET + LATIN
    backend.apply([documents.build(s) for s in every], [], len(every))
    return backend


# query -> the customers expected first, in this order.
FIRST = [
    # Any word of a contact, in any case, and typos per word.
    ("john", ["Acme（上海）贸易有限公司"]),
    ("John Smith", ["Acme（上海）贸易有限公司"]),
    ("Jonh Smiht", ["Acme（上海）贸易有限公司"]),
    ("Mary Jonhson", ["IBM中国"]),
    ("johnson", ["IBM中国"]),
    ("obrien", ["Hewlett-Packard（中国）有限公司"]),
    ("O'Brien", ["Hewlett-Packard（中国）有限公司"]),
    ("schmidt", ["西门子(Siemens)中国"]),
    # Exact whole name first, then the name as a word, then the typo.
    ("acme", ["ACME", "Acme（上海）贸易有限公司", "Acne Studios"]),
    ("ACME", ["ACME", "Acme（上海）贸易有限公司", "Acne Studios"]),
    ("Siemens", ["SIEMENS", "西门子(Siemens)中国"]),
    # Mixed names split at the script boundary; both halves found.
    ("IBM", ["IBM中国"]),
    ("ibm中国", ["IBM中国"]),
    ("IBM 中国", ["IBM中国"]),
    ("宝马", ["宝马(BMW)"]),
    ("BMW", ["宝马(BMW)"]),
    ("bmw", ["宝马(BMW)"]),
    ("3m", ["3M中国有限公司"]),
    ("Hewlett Packard", ["Hewlett-Packard（中国）有限公司"]),
    ("hewlet packard", ["Hewlett-Packard（中国）有限公司"]),
    ("packard", ["Hewlett-Packard（中国）有限公司"]),
    ("Acme(上海)贸易有限公司", ["Acme（上海）贸易有限公司"]),
    ("Acme（上海）贸易有限公司", ["Acme（上海）贸易有限公司"]),
    # Full-width forms fold to half-width, both ways.
    ("tcl", ["ＴＣＬ科技集团"]),
    ("ＴＣＬ", ["ＴＣＬ科技集团"]),
    ("ＩＢＭ", ["IBM中国"]),
    ("ｂｍｗ", ["宝马(BMW)"]),
    ("３Ｍ", ["3M中国有限公司"]),
    # ASCII folding: accents as typed or not.
    ("muller", ["Müller Bau GmbH"]),
    ("Müller", ["Müller Bau GmbH"]),
    ("MULLER BAU", ["Müller Bau GmbH"]),
    ("loreal", ["L'Oréal中国"]),
    ("L'Oréal", ["L'Oréal中国"]),
    ("societe generale", ["Société Générale上海分行"]),
    ("Chloe", ["L'Oréal中国"]),
    ("francois", ["Société Générale上海分行"]),
    ("gross", ["Müller Bau GmbH"]),  # Groß
    # E-mails: whole address (any case), local part, domain.
    ("john.smith@acme.com", ["Acme（上海）贸易有限公司"]),
    ("JOHN.SMITH@ACME.COM", ["Acme（上海）贸易有限公司"]),
    ("john.smith", ["Acme（上海）贸易有限公司"]),
    ("hans.mueller", ["宝马(BMW)"]),
    ("bmw.de", ["宝马(BMW)"]),
    ("siemens.com", ["西门子(Siemens)中国", "SIEMENS"]),
    ("cn.ibm.com", ["IBM中国"]),
]


@pytest.mark.parametrize(("text", "expected"), FIRST, ids=[t for t, _ in FIRST])
def test_names_are_found_first(latin: SearchBackend, text: str, expected: list[str]) -> None:
    assert names(find(latin, text))[: len(expected)] == expected


# query -> a customer expected within the first n.
NEAR_TOP = [
    # Peter Smith and Smith & Nephew hold the word "smith" in their names: a typo'd contact comes after.
    ("jonh smith", "Acme（上海）贸易有限公司", 3),
    ("Smith", "Peter Smith", 2),  # a person named so, or Smith & Nephew: both by their own names
    ("mary", "IBM中国", 1),
    ("Emma Brwon", "Acne Studios", 1),
    ("david lee", "3M中国有限公司", 1),
]


@pytest.mark.parametrize(("text", "expected", "within"), NEAR_TOP, ids=[t for t, _, _ in NEAR_TOP])
def test_typed_contacts_are_near_the_top(latin: SearchBackend, text: str, expected: str, within: int) -> None:
    assert expected in names(find(latin, text))[:within]


# query -> customers that must be among the results.
FOUND = [
    ("smith", {"Acme（上海）贸易有限公司", "Peter Smith", "Smith & Nephew医疗器械"}),
    ("SMITH", {"Acme（上海）贸易有限公司", "Peter Smith", "Smith & Nephew医疗器械"}),
    ("smiht", {"Acme（上海）贸易有限公司", "Peter Smith", "Smith & Nephew医疗器械"}),
    ("中国", {"IBM中国", "3M中国有限公司", "L'Oréal中国", "西门子(Siemens)中国"}),
    ("上海", {"Acme（上海）贸易有限公司", "Société Générale上海分行", "上海明辉精密机械有限公司"}),
    ("Mueller", {"Müller Bau GmbH", "宝马(BMW)"}),
]


@pytest.mark.parametrize(("text", "expected"), FOUND, ids=[t for t, _ in FOUND])
def test_every_word_finds_its_customers(latin: SearchBackend, text: str, expected: set[str]) -> None:
    assert set(names(find(latin, text))) >= expected


# query -> customers that must not be found (another name, or only a hidden contact matches).
NOT_FOUND = [
    ("smith", {"IBM中国", "ACME", "宝马(BMW)"}),
    ("acme", {"IBM中国", "SIEMENS"}),
    ("bmw", {"IBM中国", "Müller Bau GmbH"}),
    ("ibm", {"宝马(BMW)", "3M中国有限公司"}),
]


@pytest.mark.parametrize(("text", "absent"), NOT_FOUND, ids=[t for t, _ in NOT_FOUND])
def test_other_names_are_not_found(latin: SearchBackend, text: str, absent: set[str]) -> None:
    assert not set(names(find(latin, text))) & absent


def test_hidden_contacts_find_nothing_by_their_words_or_addresses(latin: SearchBackend) -> None:
    for text in ("john", "Jonh", "johnson", "schmidt", "klaus.schmidt"):
        assert names(find(latin, text, caller=NO_CONTACTS)) == [], text
    assert names(find(latin, "IBM", caller=NO_CONTACTS))[:1] == ["IBM中国"]  # names stay searchable


def test_highlights_mark_the_word_typed(latin: SearchBackend) -> None:
    assert find(latin, "muller").hits[0]["highlights"]["name"] == "<em>Müller</em> Bau GmbH"
    assert find(latin, "ＩＢＭ").hits[0]["highlights"]["name"] == "<em>IBM</em>中国"
    hit = find(latin, "smith").hits
    acme = next(h for h in hit if h["name"].startswith("Acme"))
    assert acme["highlights"]["contacts.name"] == "John <em>Smith</em>"
    suggested = service.suggest(backend=latin, caller=ADMIN, prefix="bm", limit=1)
    assert suggested[0]["highlighted"] == "宝马(<em>BM</em>W)"  # what was typed, so far


SUGGEST = [
    ("Ac", {"ACME", "Acme（上海）贸易有限公司", "Acne Studios"}),
    ("acm", {"ACME", "Acme（上海）贸易有限公司"}),
    ("Mül", {"Müller Bau GmbH"}),
    ("mul", {"Müller Bau GmbH"}),
    ("Hewl", {"Hewlett-Packard（中国）有限公司"}),
    ("pack", {"Hewlett-Packard（中国）有限公司"}),
    ("Sieme", {"SIEMENS", "西门子(Siemens)中国"}),
    ("Ｓｉｅ", {"SIEMENS", "西门子(Siemens)中国"}),
    ("societe gen", {"Société Générale上海分行"}),
    ("IBM中", {"IBM中国"}),
]


@pytest.mark.parametrize(("prefix", "expected"), SUGGEST, ids=[p for p, _ in SUGGEST])
def test_suggestions_complete_each_word(latin: SearchBackend, prefix: str, expected: set[str]) -> None:
    suggested = [s["name"] for s in service.suggest(backend=latin, caller=ADMIN, prefix=prefix, limit=5)]
    assert set(suggested[: len(expected)]) == expected


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("ＩＢＭ１２３", "ibm123"),
        ("Müller", "muller"),
        ("Straße", "strasse"),
        ("Søren Ærø", "soren aero"),
        ("Łódź", "lodz"),
        ("Acme（上海）", "acme(上海)"),
        ("ガギグ", "ガギグ"),  # kana keep their voicing marks
    ],
)
def test_folding(text: str, folded: str) -> None:
    assert analysis.fold(text) == folded


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("IBM中国", ["ibm", "中国"]),
        ("宝马(BMW)", ["宝马", "bmw"]),
        ("Acme（上海）贸易有限公司", ["acme", "上海", "贸易有限公司"]),
        ("Hewlett-Packard", ["hewlett", "packard"]),
        ("O'Brien", ["obrien"]),
        ("3M中国", ["3m", "中国"]),
        ("John  SMITH john", ["john", "smith"]),
    ],
)
def test_words(text: str, words: list[str]) -> None:
    assert analysis.words(text) == words


def test_email_parts() -> None:
    assert analysis.email_parts("John.Smith@Acme.COM") == ["john.smith", "acme.com", "john", "smith"]
    assert analysis.email_parts("not an address") == []

"""Every supported format loads into entries; bad input fails with the file and line named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge.entries import SourceError
from knowledge.loaders import load_file
from tests.conftest import EXAMPLES


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def load(path: Path):
    return load_file(path, path.name)


def make_pdf(path: Path, lines: list[str]) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    for line in lines:
        pdf.cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    pdf.set_title("Warranty FAQ")
    pdf.output(str(path))
    return path


def test_markdown_question_headings_with_front_matter(tmp_path):
    path = write(
        tmp_path,
        "faq.md",
        """---
product: shop
url: https://x.example/help
tags: [billing]
---
# Payments

## Do you accept PayPal?
Yes, PayPal works for every order.

```
## not a heading inside code
```

### Can I pay later?
With Klarna, yes.
""",
    )
    first, second = load(path)
    assert first.question == "Do you accept PayPal?"
    assert "PayPal works" in first.answer and "not a heading" in first.answer
    assert first.url == "https://x.example/help#do-you-accept-paypal"
    assert first.product == "shop" and first.tags == ["billing", "Payments"]
    assert first.line == 8
    assert second.question == "Can I pay later?" and second.answer == "With Klarna, yes."


def test_markdown_question_without_answer_names_the_line(tmp_path):
    path = write(tmp_path, "faq.md", "## One?\nyes\n\n## Two?\n\n## Three?\nok\n")
    with pytest.raises(SourceError) as info:
        load(path)
    assert info.value.line == 4 and "faq.md, line 4" in str(info.value)


def test_csv_and_tsv(tmp_path):
    csv_path = write(
        tmp_path, "faq.csv", 'Question,Answer,tags\n"Multi\nline?","Yes, it ""works"".",a;b\n\n'
    )
    (entry,) = load(csv_path)
    assert entry.question == "Multi line?" and entry.answer == 'Yes, it "works".'
    assert entry.tags == ["a", "b"] and entry.line == 2
    tsv_path = write(tmp_path, "faq.tsv", "question\tanswer\nWhere?\tHere.\n")
    assert load(tsv_path)[0].answer == "Here."


@pytest.mark.parametrize(
    "content, line, words",
    [
        ("question,answer\nA?,yes\nB?,yes,extra\n", 3, "3 fields, the header has 2"),
        ('question,answer\nA?,yes\n"B?,no end quote\n', 3, "malformed"),
        ("question,answer\nA?,\n", 2, "no answer"),
        ("q,a\nA?,yes\n", 1, "needs the columns 'question' and 'answer'"),
    ],
)
def test_malformed_csv_rows(tmp_path, content, line, words):
    with pytest.raises(SourceError) as info:
        load(write(tmp_path, "bad.csv", content))
    assert info.value.line == line
    assert words in str(info.value)
    assert str(info.value).startswith(f"bad.csv, line {line}:")


def test_wrong_encoding_names_the_line(tmp_path):
    path = write(tmp_path, "latin1.csv", "question,answer\nA?,yes\nCafé?,oui\n".encode("latin-1"))
    with pytest.raises(SourceError, match=r"latin1.csv, line 3: is not UTF-8"):
        load(path)


def test_json_and_jsonl(tmp_path):
    data = [{"question": "A?", "answer": "a", "tags": ["x"], "url": "https://e/a"}]
    assert load(write(tmp_path, "a.json", json.dumps(data)))[0].url == "https://e/a"
    assert load(write(tmp_path, "b.json", json.dumps({"entries": data})))[0].tags == ["x"]
    jsonl = write(
        tmp_path,
        "c.jsonl",
        '{"question": "A?", "answer": "a"}\n\n{"question": "B?", "answer": "b"}\n',
    )
    assert [e.line for e in load(jsonl)] == [1, 3]


def test_bad_json_names_the_line(tmp_path):
    with pytest.raises(SourceError) as info:
        load(
            write(tmp_path, "a.json", '[\n {"question": "A?", "answer": "a"},\n {"question": }\n]')
        )
    assert info.value.line == 3
    with pytest.raises(SourceError) as info:
        load(write(tmp_path, "b.jsonl", '{"question": "A?", "answer": "a"}\n{"question": "B?"}\n'))
    assert info.value.line == 2 and "no answer" in str(info.value)


def test_html_details_dt_and_headings(tmp_path):
    html = write(
        tmp_path,
        "f.html",
        """<html lang="fr"><head><title>Aide</title>
<link rel="canonical" href="https://e/aide"><script>alert(1)</script></head><body>
<details id="q1"><summary>Livrez-vous ?</summary><p>Oui.</p></details>
<dl><dt>Retours ?</dt><dd>30 jours.</dd></dl></body></html>""",
    )
    entries = load(html)
    assert [(e.question, e.answer, e.language) for e in entries] == [
        ("Livrez-vous ?", "Oui.", "fr"),
        ("Retours ?", "30 jours.", "fr"),
    ]
    assert entries[0].url == "https://e/aide#q1"
    headings = write(
        tmp_path, "g.html", "<h2>Shipping?</h2><p>Fast.</p><p>Tracked.</p><h2>Empty</h2>"
    )
    (entry,) = load(headings)
    assert entry.question == "Shipping?" and "Fast." in entry.answer and "Tracked." in entry.answer


def test_pdf_question_lines(tmp_path):
    path = make_pdf(
        tmp_path / "w.pdf",
        [
            "Warranty questions",
            "How long is the warranty?",
            "Two years on electronics.",
            "How do I claim it?",
            "Email support with your order number.",
        ],
    )
    entries = load(path)
    assert [e.question for e in entries] == ["How long is the warranty?", "How do I claim it?"]
    assert entries[0].answer == "Two years on electronics."


def test_corrupt_pdf(tmp_path):
    with pytest.raises(SourceError, match=r"broken.pdf: is not a readable PDF"):
        load(write(tmp_path, "broken.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage"))


def test_unsupported_type(tmp_path):
    with pytest.raises(SourceError, match="unsupported type '.docx'"):
        load(write(tmp_path, "a.docx", b"PK"))


def test_sample_faq_has_30_entries_in_3_languages():
    entries = [e for path in sorted(EXAMPLES.iterdir()) for e in load(path)]
    assert len(entries) >= 30
    from common.language import detect_language

    languages = {
        e.language or detect_language(e.question + " " + e.answer).language for e in entries
    }
    assert {"en", "es", "fr", "de"} <= languages
    assert all(e.question and e.answer for e in entries)


def test_hostile_input_is_reported_not_crashing(tmp_path):
    with pytest.raises(SourceError, match="deep.json: could not be parsed"):
        load(write(tmp_path, "deep.json", "[" * 200_000))


def test_line_separators_and_headings_edge_cases(tmp_path):
    jsonl = write(tmp_path, "a.jsonl", '{"question": "A\u2028B?", "answer": "x"}\n')
    assert load(jsonl)[0].answer == "x"
    md = write(
        tmp_path,
        "c.md",
        "---\nlanguage: no\n---\n## Learn C#\nNo.\n\f\n~~~\n## not a question\n~~~\n## Next?\nYes.\n",
    )
    first, second = load(md)
    assert first.question == "Learn C#" and first.language == "no"
    assert "not a question" in first.answer
    assert second.question == "Next?" and second.line == 10

#!/usr/bin/env python3
"""The dateparser side of `cargo bench --bench dates`.

Reads the corpus the Rust benchmark wrote (JSON: {"docs": [...], "seconds_budget": N})
and the labelled phrases, runs dateparser's search_dates on both, and prints
one JSON object: throughput (bytes/s, phrases/s) and accuracy. The Rust side
prints it beside fundwatch's own figures, in the same run.

dateparser is installed from PyPI for the benchmark only: pip install dateparser
"""
import json
import sys
import time
from datetime import datetime


def main():
    corpus_path, labelled_path = sys.argv[1], sys.argv[2]
    try:
        from dateparser.search import search_dates
        import dateparser
    except ImportError:
        print(json.dumps({"error": "dateparser is not installed (pip install dateparser)"}))
        return
    corpus = json.load(open(corpus_path, encoding="utf-8"))
    docs, budget = corpus["docs"], corpus["seconds_budget"]
    phrases_in_docs = corpus["phrases_per_doc"]

    # Throughput: as many documents as fit in the time budget (dateparser is
    # slow; measuring a prefix of the same corpus keeps the run short).
    start = time.perf_counter()
    done_bytes = done_docs = 0
    for doc in docs:
        search_dates(doc, languages=["fr", "en"])
        done_bytes += len(doc.encode("utf-8"))
        done_docs += 1
        if time.perf_counter() - start > budget:
            break
    elapsed = time.perf_counter() - start

    # Accuracy on the labelled phrases: dateparser has no notion of roles, so
    # every date it finds counts as its answer.
    correct = total = 0
    for line in open(labelled_path, encoding="utf-8"):
        if line.startswith("#") or not line.strip():
            continue
        phrase, lang, now, expected = line.rstrip("\n").split("\t")
        phrase = phrase.replace("\\n", "\n")
        want = set() if expected == "-" else set(expected.split(","))
        base = datetime.strptime(now, "%Y-%m-%d")
        found = search_dates(phrase, languages=[lang if lang in ("fr", "en") else "en"],
                             settings={"RELATIVE_BASE": base}) or []
        got = set()
        for _, dt in found:
            got.add(dt.strftime("%Y-%m-%d"))
        # A month-precision label matches a found date in that month.
        ok = len(got) == len(want) and all(
            any(g.startswith(w) for g in got) for w in want)
        correct += ok
        total += 1
    print(json.dumps({
        "version": dateparser.__version__,
        "bytes": done_bytes,
        "docs": done_docs,
        "seconds": elapsed,
        "mb_per_s": done_bytes / elapsed / 1e6 if elapsed else 0.0,
        "phrases_per_s": done_docs * phrases_in_docs / elapsed if elapsed else 0.0,
        "correct": correct,
        "total": total,
    }))


if __name__ == "__main__":
    main()

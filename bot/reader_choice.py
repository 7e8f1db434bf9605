"""The reader's say in which window of a passage is shown (measured, with the confidence re-fitted
on the windows it chooses; left off).

The excerpt ranker (``bot.excerpt``) judges windows by what they share with the question; the
reader (``bot.reader``) reads the question and a window together. Among the ranker's first two
windows, its score plus half the reader's logit quotes the answer more often than the ranker alone
on every benchmark file (``.venv/bin/python bench/reader_excerpts.py``; held out, with the bot, excerpt
hit@1 +1.2 to +2.0 points on CMRC, DRCD and XQuAD-en). With the confidence gathered again and
re-fitted on the chosen windows, refusal barely moves (DRCD +1.5 points, the other files within a
question), a question or two fewer answerable ones are answered on every file, each question
costs 1.5-1.7x the time, and an English follow-up on the shipped page gets a confident wrong
quote (README, "The confidence re-fitted on two windows"). So ``WINDOWS`` is 1, which shows the
ranker's first window and reads what the bot always read; ``MEASURED_WINDOWS`` (2) is the measured
choice (``bench/train_confidence.py`` gives each training row the honest logit for it, and stamps
the number of windows on its cache).
"""

from __future__ import annotations

from typing import Callable

from .excerpt import Excerpt

WINDOWS = 1  # the ranker's first windows the reader reads per hit
MEASURED_WINDOWS = 2  # the choice measured with its own confidence (see above)
READER_WEIGHT = 0.5  # of the reader's logit, added to the ranker's score (chosen on the fitting half)
Reading = dict[str, float]


def mean_logit(reading: Reading) -> float:
    return reading["reader"]


def choose_windows(
    options: list[list[Excerpt]], readings: list[list[Reading]],
    logit: Callable[[Reading], float] = mean_logit,
) -> list[tuple[Excerpt, Reading]]:
    """Per passage, the window with the best ranker score plus ``READER_WEIGHT`` × the reader's
    logit, with its reading. Without readings (another encoder than the reader's) the ranker's
    first. ``logit``: which logit counts (training gives each article its honest one)."""
    chosen = []
    for windows, read in zip(options, readings):
        if not read or any(not r for r in read):
            chosen.append((windows[0], read[0] if read else {}))
            continue
        scores = [w.score + READER_WEIGHT * logit(r) for w, r in zip(windows, read)]
        best = max(range(len(scores)), key=lambda i: (scores[i], -i))
        chosen.append((windows[best], read[best]))
    return chosen

"""Where everything lives in the training bucket.

train/<name>.csv                    uploads (any name under train/)
ground-truth/ground-truth.csv       the data the live model was trained on (train + test)
carried/carried.csv                 accepted rows not yet in the ground truth
rounds/<id>/train.csv               the candidate's training data
rounds/<id>/test-documents.txt      the held-out documents, one per line
rounds/<id>/test-labels.json        their true labels, line by line
rounds/<id>/test-trusted.json       the lines the ground truth already holds with those labels
rounds/<id>/merged.csv              what becomes the ground truth if the candidate wins
rounds/<id>/pending.csv             carried + new rows, kept if the candidate loses
rounds/<id>/jobs/<role>/            classification job output
rounds/<id>/evaluation.json         both models' metrics and the decision
failed/<name>                       rejected uploads, byte for byte
error-reports/<name>.json           why each was rejected (lambdas/shared/quarantine.py)
"""

from __future__ import annotations

UPLOAD_PREFIX = "train/"
GROUND_TRUTH = "ground-truth/ground-truth.csv"
CARRIED = "carried/carried.csv"


def round_prefix(round_id: str) -> str:
    return f"rounds/{round_id}/"

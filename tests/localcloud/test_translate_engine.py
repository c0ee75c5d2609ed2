"""The local Translate engine, driven through real boto3 clients; batch jobs on moto's S3."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import botocore.loaders
import botocore.retries.standard
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from localcloud.core.clock import LocalClock
from localcloud.core.protocol import register_on_client
from localcloud.services.translate.engine import (
    SUPPORTED_LANGUAGES,
    FaultRecord,
    JobTimings,
    TranslateEngine,
    TranslateFaults,
    pseudo_translate,
    reverse_pseudo_translation,
)
from tests.helpers.engines import REGION, SESSION, cbor_client

pytestmark = pytest.mark.usefixtures("engine_aws")

BUCKETS = ("in-bucket", "out-bucket")
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/TranslateDataAccess"
TIMINGS = JobTimings(queued_seconds=30, base_seconds=120, seconds_per_character=0.01)
PAST_THE_END = 3600.0  # virtual seconds: long enough for any job in these tests


class CountingS3:
    """A role's S3 client that counts writes (to check outputs are written exactly once)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.puts: list[str] = []

    def put_object(self, **kwargs: Any) -> Any:
        self.puts.append(kwargs["Key"])
        return self._client.put_object(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class DeniedS3:
    """A role's S3 client for a role without access to the input bucket."""

    def get_paginator(self, name: str) -> Any:
        raise ClientError(
            {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "ListObjectsV2"
        )


@pytest.fixture
def roles(s3: Any) -> dict[str, Any]:
    """Role ARN -> the S3 client the engine got for it."""
    return {}


def _engine(
    clock: LocalClock,
    s3: Any,
    roles: dict[str, Any],
    faults: TranslateFaults | None = None,
) -> TranslateEngine:
    def s3_for_role(role_arn: str) -> Any:
        return roles.setdefault(role_arn, CountingS3(s3))

    return TranslateEngine(clock, s3_for_role, faults=faults, timings=TIMINGS)


def _client(engine: TranslateEngine, config: Config | None = None) -> Any:
    client = SESSION.client(
        "translate",
        config=config or Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )
    register_on_client(client, engine)
    return client


@pytest.fixture
def engine(clock: LocalClock, s3: Any, roles: dict[str, Any]) -> TranslateEngine:
    return _engine(clock, s3, roles)


@pytest.fixture
def translate(engine: TranslateEngine) -> Any:
    return _client(engine)


# --- pseudo-translation and real-time translation ---------------------------------------------


def test_pseudo_translation_changes_every_word_and_is_reversible() -> None:
    assert pseudo_translate("Hello", "es") == "Ĥéļļö·es"
    text = "Hello, world! It's 10:45 on 2024-05-06 (v2)."
    translated = pseudo_translate(text, "fr-CA")
    assert translated == (
        "Ĥéļļö·fr-CA, ŵöŕļď·fr-CA! Îţ·fr-CA'š·fr-CA 10:45 öñ·fr-CA 2024-05-06 (ṽ·fr-CA2)."
    )
    assert len(translated) > len(text)
    assert reverse_pseudo_translation(translated) == text
    german = pseudo_translate("Grüße aus Köln", "ja")
    assert german == "Ĝŕüßé·ja åûš·ja Ķoļñ·ja"
    assert reverse_pseudo_translation(german) == "Grüße aus Köln"


def test_translate_text(translate: Any, engine: TranslateEngine) -> None:
    result = translate.translate_text(
        Text="Good morning, 3 friends.", SourceLanguageCode="en", TargetLanguageCode="de"
    )
    assert result["TranslatedText"] == "Ĝööď·de ɱöŕñîñĝ·de, 3 ƒŕîéñďš·de."
    assert result["SourceLanguageCode"] == "en"
    assert result["TargetLanguageCode"] == "de"
    assert "AppliedTerminologies" not in result
    same = translate.translate_text(
        Text="Unchanged.", SourceLanguageCode="en", TargetLanguageCode="en"
    )
    assert same["TranslatedText"] == "Unchanged."
    assert engine.usage.realtime_characters == len("Good morning, 3 friends.") + len("Unchanged.")
    assert engine.usage.by_operation() == {"TranslateText": 34}


def test_html_markup_ids_and_do_not_translate_are_preserved(translate: Any) -> None:
    source = (
        '<div class="cue" id="c1" data-start="00:00:01.500">Hello <b>there</b> &amp; welcome</div>'
        '\n<p id=c2 translate="no">Keep <i>me</i> as is</p>'
        "\n<!-- note --><span translate=no>AT&amp;T</span><br/><img src='a.png' alt=\"Logo\">"
        '<script>var x = "<b>text</b>";</script>'
    )
    result = translate.translate_text(Text=source, SourceLanguageCode="en", TargetLanguageCode="fr")
    assert result["TranslatedText"] == (
        '<div class="cue" id="c1" data-start="00:00:01.500">Ĥéļļö·fr <b>ţĥéŕé·fr</b> &amp; '
        "ŵéļçöɱé·fr</div>"
        '\n<p id=c2 translate="no">Keep <i>me</i> as is</p>'
        "\n<!-- note --><span translate=no>AT&amp;T</span><br/><img src='a.png' alt=\"Logo\">"
        '<script>var x = "<b>text</b>";</script>'
    )
    assert reverse_pseudo_translation(result["TranslatedText"]) == source


def test_text_over_10000_utf8_bytes_is_rejected(translate: Any) -> None:
    at_limit = "ß" * 5000  # 10,000 bytes
    result = translate.translate_text(
        Text=at_limit, SourceLanguageCode="fr", TargetLanguageCode="en"
    )
    assert result["TranslatedText"] == "ß" * 5000 + "·en"
    with pytest.raises(translate.exceptions.TextSizeLimitExceededException) as too_big:
        translate.translate_text(
            Text=at_limit + "x", SourceLanguageCode="fr", TargetLanguageCode="en"
        )
    assert too_big.value.response["Error"]["Message"] == (
        "Input text size exceeds limit. Max length of request text allowed is 10000 bytes while "
        "in this request the text size is 10001 bytes"
    )


def test_unsupported_languages(translate: Any) -> None:
    with pytest.raises(translate.exceptions.UnsupportedLanguagePairException) as bad_target:
        translate.translate_text(Text="Hi", SourceLanguageCode="en", TargetLanguageCode="xx")
    assert bad_target.value.response["Error"]["Message"] == "Unsupported language pair: en to xx."
    assert bad_target.value.response["TargetLanguageCode"] == "xx"
    with pytest.raises(translate.exceptions.UnsupportedLanguagePairException) as auto:
        translate.translate_text(Text="Hi", SourceLanguageCode="auto", TargetLanguageCode="es")
    assert "does not detect languages" in auto.value.response["Error"]["Message"]


def test_list_languages_is_paginated(translate: Any) -> None:
    first = translate.list_languages(MaxResults=50)
    assert len(first["Languages"]) == 50
    second = translate.list_languages(MaxResults=50, NextToken=first["NextToken"])
    assert "NextToken" not in second
    languages = first["Languages"] + second["Languages"]
    assert len(languages) == len(SUPPORTED_LANGUAGES) == 75
    assert {"LanguageName": "French (Canada)", "LanguageCode": "fr-CA"} in languages
    assert first["DisplayLanguageCode"] == "en"


def test_translate_document(translate: Any) -> None:
    html_doc = '<ul><li id="a">One cat</li><li id="b">Two <em>dogs</em></li></ul>'
    result = translate.translate_document(
        Document={"Content": html_doc.encode(), "ContentType": "text/html"},
        SourceLanguageCode="en",
        TargetLanguageCode="it",
    )
    assert result["TranslatedDocument"]["Content"].decode() == (
        '<ul><li id="a">Öñé·it çåţ·it</li><li id="b">Ţŵö·it <em>ďöĝš·it</em></li></ul>'
    )
    plain = translate.translate_document(
        Document={"Content": b"<b>not markup here</b>", "ContentType": "text/plain"},
        SourceLanguageCode="en",
        TargetLanguageCode="it",
    )
    assert (
        plain["TranslatedDocument"]["Content"] == "<ƀ·it>ñöţ·it ɱåŕķûþ·it ĥéŕé·it</ƀ·it>".encode()
    )
    with pytest.raises(translate.exceptions.InvalidRequestException, match="Word documents"):
        translate.translate_document(
            Document={
                "Content": b"PK",
                "ContentType": (
                    "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
                ),
            },
            SourceLanguageCode="en",
            TargetLanguageCode="it",
        )
    with pytest.raises(translate.exceptions.InvalidRequestException, match="UTF-8"):
        translate.translate_document(
            Document={"Content": b"\xff\xfe", "ContentType": "text/plain"},
            SourceLanguageCode="en",
            TargetLanguageCode="it",
        )


# --- terminology ------------------------------------------------------------------------------


TERMS_CSV = b"en,fr,es\nAmazon,Amazon,Amazon\nconsole,pupitre,consola\nsign in,connexion,acceso\n"


def test_terminology_lifecycle_and_application(translate: Any) -> None:
    imported = translate.import_terminology(
        Name="brand-terms",
        MergeStrategy="OVERWRITE",
        Description="Brand names",
        TerminologyData={"File": TERMS_CSV, "Format": "CSV"},
    )["TerminologyProperties"]
    assert imported["Name"] == "brand-terms"
    assert imported["Arn"] == f"arn:aws:translate:{REGION}:{ACCOUNT}:terminology/brand-terms/LATEST"
    assert imported["SourceLanguageCode"] == "en"
    assert imported["TargetLanguageCodes"] == ["fr", "es"]
    assert imported["TermCount"] == 3
    assert imported["SizeBytes"] == len(TERMS_CSV)
    assert imported["Directionality"] == "UNI"

    result = translate.translate_text(
        Text="Sign In to the Amazon CONSOLE console.",
        SourceLanguageCode="en",
        TargetLanguageCode="fr",
        TerminologyNames=["brand-terms"],
    )
    assert result["TranslatedText"] == "Connexion ţö·fr ţĥé·fr Amazon PUPITRE pupitre."
    assert result["AppliedTerminologies"] == [
        {
            "Name": "brand-terms",
            "Terms": [
                {"SourceText": "sign in", "TargetText": "connexion"},
                {"SourceText": "Amazon", "TargetText": "Amazon"},
                {"SourceText": "console", "TargetText": "pupitre"},
            ],
        }
    ]

    fetched = translate.get_terminology(Name="brand-terms", TerminologyDataFormat="TSV")
    assert fetched["TerminologyProperties"]["TermCount"] == 3
    location = fetched["TerminologyDataLocation"]
    assert location["RepositoryType"] == "S3"
    assert location["Location"].startswith("data:text/tab-separated-values;base64,")
    listed = translate.list_terminologies()["TerminologyPropertiesList"]
    assert [t["Name"] for t in listed] == ["brand-terms"]

    with pytest.raises(translate.exceptions.InvalidRequestException):
        translate.translate_text(
            Text="x", SourceLanguageCode="en", TargetLanguageCode="fr", TerminologyNames=["a", "b"]
        )
    translate.delete_terminology(Name="brand-terms")
    with pytest.raises(translate.exceptions.ResourceNotFoundException):
        translate.translate_text(
            Text="x",
            SourceLanguageCode="en",
            TargetLanguageCode="fr",
            TerminologyNames=["brand-terms"],
        )
    with pytest.raises(translate.exceptions.ResourceNotFoundException):
        translate.get_terminology(Name="brand-terms")


def test_terminology_file_must_name_supported_languages(translate: Any) -> None:
    with pytest.raises(translate.exceptions.InvalidParameterValueException, match="header row"):
        translate.import_terminology(
            Name="bad",
            MergeStrategy="OVERWRITE",
            TerminologyData={"File": b"english,french\nA,B\n", "Format": "CSV"},
        )


# --- batch jobs -------------------------------------------------------------------------------


def _start(translate: Any, token: str = "token-1", **overrides: Any) -> str:
    request: dict[str, Any] = {
        "JobName": "captions",
        "InputDataConfig": {"S3Uri": "s3://in-bucket/captions", "ContentType": "text/plain"},
        "OutputDataConfig": {"S3Uri": "s3://out-bucket/results"},
        "DataAccessRoleArn": ROLE,
        "SourceLanguageCode": "en",
        "TargetLanguageCodes": ["es", "fr"],
        "ClientToken": token,
        **overrides,
    }
    return str(translate.start_text_translation_job(**request)["JobId"])


def _props(translate: Any, job_id: str) -> dict[str, Any]:
    return dict(
        translate.describe_text_translation_job(JobId=job_id)["TextTranslationJobProperties"]
    )


def _keys(s3: Any, bucket: str = "out-bucket") -> list[str]:
    return sorted(item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def _read(s3: Any, key: str, bucket: str = "out-bucket") -> bytes:
    return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def test_batch_job_runs_on_the_local_clock(
    translate: Any, engine: TranslateEngine, clock: LocalClock, s3: Any, roles: dict[str, Any]
) -> None:
    s3.put_object(Bucket="in-bucket", Key="captions/intro.txt", Body=b"Hello world.")
    s3.put_object(Bucket="in-bucket", Key="captions/part2/outro.txt", Body=b"Goodbye, 2 friends!")
    s3.put_object(Bucket="in-bucket", Key="elsewhere/skip.txt", Body=b"Not an input.")
    started = translate.start_text_translation_job(
        JobName="captions",
        InputDataConfig={"S3Uri": "s3://in-bucket/captions", "ContentType": "text/plain"},
        OutputDataConfig={"S3Uri": "s3://out-bucket/results"},
        DataAccessRoleArn=ROLE,
        SourceLanguageCode="en",
        TargetLanguageCodes=["es", "fr"],
        ClientToken="token-1",
    )
    assert started["JobStatus"] == "SUBMITTED"
    job_id = started["JobId"]
    assert re.fullmatch(r"[0-9a-f]{32}", job_id)
    folder = f"results/{ACCOUNT}-TranslateText-{job_id}/"

    submitted = _props(translate, job_id)
    assert submitted["JobStatus"] == "SUBMITTED"
    assert submitted["JobName"] == "captions"
    assert submitted["OutputDataConfig"] == {"S3Uri": f"s3://out-bucket/{folder}"}
    assert "EndTime" not in submitted

    clock.advance(31)
    assert _props(translate, job_id)["JobStatus"] == "IN_PROGRESS"
    assert _keys(s3) == []

    clock.advance(PAST_THE_END)
    done = _props(translate, job_id)
    assert done["JobStatus"] == "COMPLETED"
    assert done["Message"] == "Your job has completed successfully."
    assert done["JobDetails"] == {
        "TranslatedDocumentsCount": 2,
        "DocumentsWithErrorsCount": 0,
        "InputDocumentsCount": 2,
    }
    characters = len("Hello world.") + len("Goodbye, 2 friends!")
    # EndTime is when the job ended on the virtual clock, not when it was first observed.
    duration = done["EndTime"] - done["SubmittedTime"]
    assert duration.total_seconds() == pytest.approx(30 + 120 + characters * 0.01, abs=0.01)
    assert _keys(s3) == [
        f"{folder}details/es.auxiliary-translation-details.json",
        f"{folder}details/fr.auxiliary-translation-details.json",
        f"{folder}es.intro.txt",
        f"{folder}fr.intro.txt",
        f"{folder}part2/es.outro.txt",
        f"{folder}part2/fr.outro.txt",
    ]
    assert _read(s3, f"{folder}es.intro.txt").decode() == "Ĥéļļö·es ŵöŕļď·es."
    assert _read(s3, f"{folder}part2/fr.outro.txt").decode() == "Ĝööďƀýé·fr, 2 ƒŕîéñďš·fr!"
    assert json.loads(_read(s3, f"{folder}details/fr.auxiliary-translation-details.json")) == {
        "sourceLanguageCode": "en",
        "targetLanguageCode": "fr",
        "charactersTranslated": str(characters),
        "documentCountWithCustomerError": "0",
        "documentCountWithServerError": "0",
        "inputDataPrefix": "s3://in-bucket/captions",
        "outputDataPrefix": f"s3://out-bucket/{folder}",
        "details": [
            {"sourceFile": "intro.txt", "targetFile": "fr.intro.txt"},
            {"sourceFile": "part2/outro.txt", "targetFile": "part2/fr.outro.txt"},
        ],
    }
    assert list(roles) == [ROLE]
    assert engine.usage.batch_characters == 2 * characters
    assert engine.usage.realtime_characters == 0


def test_outputs_are_written_exactly_once_even_under_concurrent_describes(
    translate: Any, clock: LocalClock, s3: Any, roles: dict[str, Any]
) -> None:
    s3.put_object(Bucket="in-bucket", Key="captions/a.txt", Body=b"One.")
    job_id = _start(translate, TargetLanguageCodes=["de"])
    clock.advance(PAST_THE_END)
    statuses: list[str] = []
    threads = [
        threading.Thread(target=lambda: statuses.append(_props(translate, job_id)["JobStatus"]))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == ["COMPLETED"] * 8
    folder = f"results/{ACCOUNT}-TranslateText-{job_id}/"
    assert roles[ROLE].puts == [
        f"{folder}de.a.txt",
        f"{folder}details/de.auxiliary-translation-details.json",
    ]
    s3.delete_object(Bucket="out-bucket", Key=f"{folder}de.a.txt")
    assert _props(translate, job_id)["JobStatus"] == "COMPLETED"
    assert _keys(s3) == [f"{folder}details/de.auxiliary-translation-details.json"]


def test_poll_finishes_jobs_nobody_describes(
    translate: Any, engine: TranslateEngine, clock: LocalClock, s3: Any
) -> None:
    s3.put_object(Bucket="in-bucket", Key="captions/a.txt", Body=b"One.")
    job_id = _start(translate, TargetLanguageCodes=["de"])
    engine.poll()
    assert _keys(s3) == []
    clock.advance(PAST_THE_END)
    engine.poll()
    assert _keys(s3) == [
        f"results/{ACCOUNT}-TranslateText-{job_id}/de.a.txt",
        f"results/{ACCOUNT}-TranslateText-{job_id}/details/de.auxiliary-translation-details.json",
    ]


def test_client_token_makes_start_idempotent(translate: Any) -> None:
    first = _start(translate, token="same-token")
    again = _start(translate, token="same-token")
    assert again == first
    assert len(translate.list_text_translation_jobs()["TextTranslationJobPropertiesList"]) == 1
    with pytest.raises(translate.exceptions.InvalidRequestException, match="ClientToken"):
        _start(translate, token="same-token", TargetLanguageCodes=["de"])
    assert _start(translate, token="other-token") != first


def test_a_job_id_follows_from_the_client_token(
    translate: Any, clock: LocalClock, s3: Any, roles: dict[str, Any]
) -> None:
    # A fresh engine (a fresh server) gives a job started with the same token the same id, so
    # a committed event can name it; another account's job with that token gets another id.
    first = _start(translate, token="batch-0")
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    fresh = _engine(clock, s3, roles)
    assert _start(_client(fresh), token="batch-0") == first == fresh.job_id_for("batch-0")
    other = TranslateEngine(clock, lambda role: s3, account_id="210987654321")
    assert other.job_id_for("batch-0") != first


def test_start_validates_the_request(translate: Any) -> None:
    eleven = ["es", "fr", "de", "it", "ja", "ko", "pt", "ru", "zh", "ar", "hi"]
    with pytest.raises(translate.exceptions.InvalidRequestException, match="at most 10"):
        _start(translate, TargetLanguageCodes=eleven)
    with pytest.raises(translate.exceptions.UnsupportedLanguagePairException):
        _start(translate, TargetLanguageCodes=["es", "xx"])
    with pytest.raises(translate.exceptions.InvalidRequestException, match="application/pdf"):
        _start(
            translate,
            InputDataConfig={"S3Uri": "s3://in-bucket/x", "ContentType": "application/pdf"},
        )
    with pytest.raises(translate.exceptions.ResourceNotFoundException):
        _start(translate, TerminologyNames=["missing"])
    with pytest.raises(translate.exceptions.ResourceNotFoundException):
        _start(translate, ParallelDataNames=["corpus"])
    with pytest.raises(translate.exceptions.ResourceNotFoundException):
        translate.describe_text_translation_job(JobId="0" * 32)
    # `auto` is accepted as the source of a batch job.
    assert _start(translate, SourceLanguageCode="auto")


def test_a_non_utf8_document_fails_alone(translate: Any, clock: LocalClock, s3: Any) -> None:
    s3.put_object(Bucket="in-bucket", Key="captions/good.txt", Body=b"Fine text.")
    s3.put_object(Bucket="in-bucket", Key="captions/bad.txt", Body=b"caf\xe9 latin-1")
    job_id = _start(translate, TargetLanguageCodes=["es"])
    clock.advance(PAST_THE_END)
    props = _props(translate, job_id)
    assert props["JobStatus"] == "COMPLETED_WITH_ERROR"
    assert props["JobDetails"] == {
        "TranslatedDocumentsCount": 1,
        "DocumentsWithErrorsCount": 1,
        "InputDocumentsCount": 2,
    }
    folder = f"results/{ACCOUNT}-TranslateText-{job_id}/"
    details = json.loads(_read(s3, f"{folder}details/es.auxiliary-translation-details.json"))
    assert details["documentCountWithCustomerError"] == "1"
    assert details["charactersTranslated"] == str(len("Fine text."))
    assert details["details"] == [
        {
            "sourceFile": "bad.txt",
            "errorCode": "INVALID_UTF8",
            "errorMessage": "The document is not valid UTF-8.",
        },
        {"sourceFile": "good.txt", "targetFile": "es.good.txt"},
    ]
    assert _keys(s3) == [
        f"{folder}details/es.auxiliary-translation-details.json",
        f"{folder}es.good.txt",
    ]


def test_document_limits_fail_documents_not_the_job(
    translate: Any, engine: TranslateEngine, clock: LocalClock, s3: Any
) -> None:
    engine.max_batch_document_bytes = 100
    engine.max_batch_document_characters = 20
    s3.put_object(Bucket="in-bucket", Key="captions/huge.txt", Body=b"x" * 101)
    s3.put_object(Bucket="in-bucket", Key="captions/long.txt", Body=b"y" * 20)
    s3.put_object(Bucket="in-bucket", Key="captions/ok.txt", Body=b"z" * 19)
    job_id = _start(translate, TargetLanguageCodes=["es"])
    clock.advance(PAST_THE_END)
    assert _props(translate, job_id)["JobStatus"] == "COMPLETED_WITH_ERROR"
    folder = f"results/{ACCOUNT}-TranslateText-{job_id}/"
    details = json.loads(_read(s3, f"{folder}details/es.auxiliary-translation-details.json"))
    assert [(entry["sourceFile"], entry.get("errorCode")) for entry in details["details"]] == [
        ("huge.txt", "DOCUMENT_SIZE_LIMIT_EXCEEDED"),
        ("long.txt", "TEXT_SIZE_LIMIT_EXCEEDED"),
        ("ok.txt", None),
    ]


def test_empty_input_fails_the_job(translate: Any, clock: LocalClock, s3: Any) -> None:
    job_id = _start(translate)
    clock.advance(PAST_THE_END)
    props = _props(translate, job_id)
    assert props["JobStatus"] == "FAILED"
    assert props["Message"] == "The input location s3://in-bucket/captions contains no documents."
    assert props["JobDetails"]["InputDocumentsCount"] == 0
    assert _keys(s3) == []


def test_unreadable_input_fails_the_job(clock: LocalClock, s3: Any) -> None:
    engine = TranslateEngine(clock, lambda role_arn: DeniedS3(), timings=TIMINGS)
    translate = _client(engine)
    job_id = _start(translate)
    clock.advance(PAST_THE_END)
    props = _props(translate, job_id)
    assert props["JobStatus"] == "FAILED"
    assert props["Message"] == (
        "Amazon Translate could not read the input location s3://in-bucket/captions with the "
        "data access role: AccessDenied."
    )


def test_all_documents_failing_fails_the_job(translate: Any, clock: LocalClock, s3: Any) -> None:
    s3.put_object(Bucket="in-bucket", Key="captions/bad.txt", Body=b"\xff")
    job_id = _start(translate, TargetLanguageCodes=["es"])
    clock.advance(PAST_THE_END)
    props = _props(translate, job_id)
    assert props["JobStatus"] == "FAILED"
    assert props["Message"].startswith("None of the 1 input documents could be translated")


def test_unprocessed_content_type_fails_the_job(translate: Any, clock: LocalClock, s3: Any) -> None:
    s3.put_object(Bucket="in-bucket", Key="captions/a.docx", Body=b"PK")
    docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    job_id = _start(
        translate, InputDataConfig={"S3Uri": "s3://in-bucket/captions", "ContentType": docx}
    )
    clock.advance(PAST_THE_END)
    props = _props(translate, job_id)
    assert props["JobStatus"] == "FAILED"
    assert props["Message"] == (
        f"The local Translate engine does not process {docx} documents; it translates "
        "text/plain and text/html only."
    )


def test_stop_a_job(translate: Any, clock: LocalClock, s3: Any) -> None:
    s3.put_object(Bucket="in-bucket", Key="captions/a.txt", Body=b"Text.")
    job_id = _start(translate)
    clock.advance(40)
    assert _props(translate, job_id)["JobStatus"] == "IN_PROGRESS"
    stopped = translate.stop_text_translation_job(JobId=job_id)
    assert stopped["JobStatus"] == "STOP_REQUESTED"
    assert _props(translate, job_id)["JobStatus"] == "STOP_REQUESTED"
    clock.advance(TIMINGS.stop_seconds)
    props = _props(translate, job_id)
    assert props["JobStatus"] == "STOPPED"
    clock.advance(PAST_THE_END)
    assert _props(translate, job_id)["JobStatus"] == "STOPPED"
    assert translate.stop_text_translation_job(JobId=job_id)["JobStatus"] == "STOPPED"
    assert _keys(s3) == []


def test_list_jobs_filters_and_pages(translate: Any, clock: LocalClock, s3: Any) -> None:
    s3.put_object(Bucket="in-bucket", Key="captions/a.txt", Body=b"Text.")
    first = _start(translate, token="t1", JobName="alpha")
    clock.advance(PAST_THE_END)
    second = _start(translate, token="t2", JobName="beta")
    clock.advance(1)
    third = _start(translate, token="t3", JobName="beta")

    page = translate.list_text_translation_jobs(MaxResults=2)
    assert [p["JobId"] for p in page["TextTranslationJobPropertiesList"]] == [third, second]
    rest = translate.list_text_translation_jobs(MaxResults=2, NextToken=page["NextToken"])
    assert [p["JobId"] for p in rest["TextTranslationJobPropertiesList"]] == [first]
    assert "NextToken" not in rest

    by_name = translate.list_text_translation_jobs(Filter={"JobName": "beta"})
    assert [p["JobId"] for p in by_name["TextTranslationJobPropertiesList"]] == [third, second]
    by_status = translate.list_text_translation_jobs(Filter={"JobStatus": "COMPLETED"})
    assert [p["JobId"] for p in by_status["TextTranslationJobPropertiesList"]] == [first]
    with pytest.raises(translate.exceptions.InvalidFilterException):
        translate.list_text_translation_jobs(Filter={"JobName": "beta", "JobStatus": "SUBMITTED"})


def test_batch_job_applies_terminology(translate: Any, clock: LocalClock, s3: Any) -> None:
    translate.import_terminology(
        Name="brand-terms",
        MergeStrategy="OVERWRITE",
        TerminologyData={"File": TERMS_CSV, "Format": "CSV"},
    )
    s3.put_object(Bucket="in-bucket", Key="captions/a.txt", Body=b"Open the console.")
    job_id = _start(translate, TargetLanguageCodes=["es"], TerminologyNames=["brand-terms"])
    clock.advance(PAST_THE_END)
    assert _props(translate, job_id)["TerminologyNames"] == ["brand-terms"]
    folder = f"results/{ACCOUNT}-TranslateText-{job_id}/"
    assert _read(s3, f"{folder}es.a.txt").decode() == "Öþéñ·es ţĥé·es consola."
    details = json.loads(_read(s3, f"{folder}details/es.auxiliary-translation-details.json"))
    assert details["details"] == [
        {
            "sourceFile": "a.txt",
            "targetFile": "es.a.txt",
            "auxiliaryData": {
                "appliedTerminologies": [
                    {
                        "name": "brand-terms",
                        "terms": [{"sourceText": "console", "targetText": "consola"}],
                    }
                ]
            },
        }
    ]


# --- faults -----------------------------------------------------------------------------------

CUES = (
    '<div id="c1">One</div>\n<div id="c2">Two</div>\n<div id="c3">Three</div>\n'
    '<div id="c4">Four</div>'
)


def _cue_ids(text: str) -> list[str]:
    return re.findall(r'id="(c\d)"', text)


def _faulty(clock: LocalClock, s3: Any, roles: dict[str, Any], *modes: str, seed: int = 7) -> Any:
    engine = _engine(clock, s3, roles, TranslateFaults(frozenset(modes), seed=seed))
    return engine, _client(engine)


def _cues_under_fault(
    clock: LocalClock, s3: Any, roles: dict[str, Any], mode: str
) -> tuple[FaultRecord, str, Any]:
    """CUES translated by an engine with one fault mode: the one fault it logged, the
    translation, and the client."""
    engine, translate = _faulty(clock, s3, roles, mode)
    output = translate.translate_text(Text=CUES, SourceLanguageCode="en", TargetLanguageCode="es")
    [record] = engine.fault_log
    return record, output["TranslatedText"], translate


def test_drop_fault_removes_one_cue(clock: LocalClock, s3: Any, roles: dict[str, Any]) -> None:
    record, translated, translate = _cues_under_fault(clock, s3, roles, "drop")
    assert record.operation == "TranslateText" and record.mode == "drop"
    assert _cue_ids(translated) == [
        c for c in ["c1", "c2", "c3", "c4"] if c not in record.element_ids
    ]
    again = translate.translate_text(Text=CUES, SourceLanguageCode="en", TargetLanguageCode="es")
    assert again["TranslatedText"] == translated  # deterministic


def test_merge_fault_joins_two_adjacent_cues(
    clock: LocalClock, s3: Any, roles: dict[str, Any]
) -> None:
    record, translated, _ = _cues_under_fault(clock, s3, roles, "merge")
    first, second = record.element_ids
    assert int(second[1]) == int(first[1]) + 1
    assert _cue_ids(translated) == [c for c in ["c1", "c2", "c3", "c4"] if c != second]
    words = {"c1": "One", "c2": "Two", "c3": "Three", "c4": "Four"}
    merged = re.search(rf'<div id="{first}">(.*?)</div>', translated)
    assert merged is not None
    assert reverse_pseudo_translation(merged.group(1)) == f"{words[first]} {words[second]}"


def test_reorder_fault_swaps_two_adjacent_cues(
    clock: LocalClock, s3: Any, roles: dict[str, Any]
) -> None:
    record, translated, _ = _cues_under_fault(clock, s3, roles, "reorder")
    expected = ["c1", "c2", "c3", "c4"]
    a, b = expected.index(record.element_ids[0]), expected.index(record.element_ids[1])
    expected[a], expected[b] = expected[b], expected[a]
    assert b == a + 1
    assert _cue_ids(translated) == expected
    assert reverse_pseudo_translation(translated).count("</div>") == 4


def test_faults_spare_documents_with_fewer_than_three_ids(
    clock: LocalClock, s3: Any, roles: dict[str, Any]
) -> None:
    engine, translate = _faulty(clock, s3, roles, "drop", "merge", "reorder")
    two = '<div id="c1">One</div><div id="c2">Two</div>'
    output = translate.translate_text(Text=two, SourceLanguageCode="en", TargetLanguageCode="es")
    assert output["TranslatedText"] == '<div id="c1">Öñé·es</div><div id="c2">Ţŵö·es</div>'
    assert engine.fault_log == []


def test_faults_apply_to_documents_and_batch_outputs(
    clock: LocalClock, s3: Any, roles: dict[str, Any]
) -> None:
    engine, translate = _faulty(clock, s3, roles, "drop")
    document = translate.translate_document(
        Document={"Content": CUES.encode(), "ContentType": "text/html"},
        SourceLanguageCode="en",
        TargetLanguageCode="es",
    )
    assert len(_cue_ids(document["TranslatedDocument"]["Content"].decode())) == 3
    s3.put_object(Bucket="in-bucket", Key="captions/cues.html", Body=CUES.encode())
    job_id = _start(
        translate,
        TargetLanguageCodes=["es"],
        InputDataConfig={"S3Uri": "s3://in-bucket/captions/", "ContentType": "text/html"},
    )
    clock.advance(PAST_THE_END)
    assert _props(translate, job_id)["JobStatus"] == "COMPLETED"
    output = _read(s3, f"results/{ACCOUNT}-TranslateText-{job_id}/es.cues.html").decode()
    assert len(_cue_ids(output)) == 3
    assert [r.operation for r in engine.fault_log] == [
        "TranslateDocument",
        "StartTextTranslationJob",
    ]
    assert all(isinstance(r, FaultRecord) and r.mode == "drop" for r in engine.fault_log)


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    # Retries happen as in production; only the back-off sleep is skipped to keep tests fast.
    monkeypatch.setattr(
        botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda self, ctx: 0
    )


def _throttling(
    clock: LocalClock, s3: Any, roles: dict[str, Any], throttle_calls: int, max_attempts: int
) -> tuple[TranslateEngine, Any]:
    """An engine that throttles its next `throttle_calls` calls, and a client with standard
    retries (a Config's `max_attempts` counts retries: 2 means three attempts in all)."""
    faults = TranslateFaults(frozenset({"throttle"}), throttle_calls=throttle_calls)
    engine = _engine(clock, s3, roles, faults)
    retries = Config(retries={"mode": "standard", "max_attempts": max_attempts})
    return engine, _client(engine, retries)


@pytest.mark.usefixtures("no_backoff")
def test_throttling_is_retried_transparently(
    clock: LocalClock, s3: Any, roles: dict[str, Any]
) -> None:
    _, translate = _throttling(clock, s3, roles, throttle_calls=3, max_attempts=3)
    result = translate.translate_text(Text="Hi", SourceLanguageCode="en", TargetLanguageCode="es")
    assert result["TranslatedText"] == "Ĥî·es"
    assert result["ResponseMetadata"]["RetryAttempts"] == 3


@pytest.mark.usefixtures("no_backoff")
def test_throttling_fails_once_attempts_run_out(
    clock: LocalClock, s3: Any, roles: dict[str, Any]
) -> None:
    engine, translate = _throttling(clock, s3, roles, throttle_calls=4, max_attempts=2)
    with pytest.raises(translate.exceptions.TooManyRequestsException) as throttled:
        translate.list_languages()
    assert throttled.value.response["ResponseMetadata"]["RetryAttempts"] == 2
    assert throttled.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    # One throttled call is left: the next call needs one retry, the one after none.
    assert translate.list_languages()["ResponseMetadata"]["RetryAttempts"] == 1
    assert translate.list_languages()["ResponseMetadata"]["RetryAttempts"] == 0
    engine.arm_throttle(2)
    assert translate.list_languages()["ResponseMetadata"]["RetryAttempts"] == 2


def test_fault_modes_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown fault modes"):
        TranslateFaults(frozenset({"explode"}))


def test_engine_answers_cbor_clients(
    engine: TranslateEngine, clock: LocalClock, s3: Any, tmp_path: Any
) -> None:
    # botocore 1.44 prefers JSON; a model listing only RPC v2 CBOR makes the client use CBOR.
    translate, sent = cbor_client(
        "translate",
        engine,
        tmp_path,
        REGION,
        Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )

    document = translate.translate_document(
        Document={"Content": b'<p id="x">Hi</p>', "ContentType": "text/html"},
        SourceLanguageCode="en",
        TargetLanguageCode="sv",
    )
    assert document["TranslatedDocument"]["Content"] == '<p id="x">Ĥî·sv</p>'.encode()
    with pytest.raises(translate.exceptions.UnsupportedLanguagePairException):
        translate.translate_text(Text="Hi", SourceLanguageCode="en", TargetLanguageCode="xx")
    s3.put_object(Bucket="in-bucket", Key="captions/a.txt", Body=b"One.")
    job_id = _start(translate)
    clock.advance(PAST_THE_END)
    props = _props(translate, job_id)
    assert props["JobStatus"] == "COMPLETED"
    assert props["EndTime"] > props["SubmittedTime"]
    assert set(sent) == {b"application/cbor"}

"""The DataProcessingJob's transformations as plain PySpark functions on DataFrames.

Input rows: `line`, `label`, `title`, `abstract` (see pipeline_text.parse_rows). Output lines
are BlazingText's supervised format, `__label__<class> <tokens>`, split per class (stratified)
into train, validation and test with a fixed seed.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F  # noqa: N812
from pyspark.sql.types import IntegerType, StringType, StructField, StructType

ROW_SCHEMA = StructType(
    [
        StructField("line", IntegerType(), False),
        StructField("label", StringType(), False),
        StructField("title", StringType(), False),
        StructField("abstract", StringType(), False),
    ]
)
SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class SplitFractions:
    validation: float
    test: float

    def __post_init__(self) -> None:
        if not (0 < self.validation < 0.5 and 0 < self.test < 0.5):
            raise ValueError("validation and test fractions must each be in (0, 0.5)")
        if self.validation + self.test >= 0.9:
            raise ValueError("validation and test fractions leave too little to train on")


def tokenised(text: Column) -> Column:
    """Lower case; every run of characters other than letters and digits becomes one space
    (so `__label__` can never appear inside the text); trimmed."""
    lowered = F.lower(text)
    spaced = F.regexp_replace(lowered, r"[^\p{L}\p{N}]+", " ")
    return F.trim(spaced)


def clean(rows: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(usable rows with `label` and `text`, rejects with `line` and `reason`)."""
    with_text = rows.withColumn(
        "text", tokenised(F.concat_ws(" ", F.col("title"), F.col("abstract")))
    )
    usable = with_text.where(F.length("text") > 0).select("line", "label", "text")
    rejects = with_text.where(F.length("text") == 0).select(
        "line", F.lit("no words left after cleaning").alias("reason")
    )
    return usable, rejects


def stratified_split(usable: DataFrame, fractions: SplitFractions, seed: int) -> DataFrame:
    """Adds `split` (train/validation/test) and `order`: within each class, rows are ranked by
    a seeded hash of their content, so the split does not depend on partitioning or input
    order, and each split holds each class's share (at least one test and one validation row
    per class of three or more rows)."""
    order = F.xxhash64(F.col("label"), F.col("text"), F.col("line"), F.lit(seed))
    ranked = usable.withColumn("order", order)
    window = Window.partitionBy("label").orderBy("order", "line")
    counted = ranked.withColumn("rank", F.row_number().over(window) - 1).withColumn(
        "size", F.count(F.lit(1)).over(Window.partitionBy("label"))
    )
    test_rows = F.greatest(F.lit(1), F.round(F.col("size") * fractions.test)).cast("int")
    validation_rows = F.greatest(F.lit(1), F.round(F.col("size") * fractions.validation)).cast(
        "int"
    )
    split = (
        F.when(F.col("size") < 3, F.lit("train"))
        .when(F.col("rank") < test_rows, F.lit("test"))
        .when(F.col("rank") < test_rows + validation_rows, F.lit("validation"))
        .otherwise(F.lit("train"))
    )
    return counted.withColumn("split", split).drop("rank", "size")


def supervised_lines(split_rows: DataFrame) -> DataFrame:
    """`split`, `order` and `value`: the BlazingText supervised line of each row."""
    value = F.concat(F.lit("__label__"), F.col("label"), F.lit(" "), F.col("text"))
    return split_rows.select("split", "order", value.alias("value"))


def class_counts(split_rows: DataFrame) -> dict[str, dict[str, int]]:
    """{label: {split: rows}} for every class present."""
    counts: dict[str, dict[str, int]] = {}
    for row in split_rows.groupBy("label", "split").count().collect():
        counts.setdefault(row["label"], {s: 0 for s in SPLITS})[row["split"]] = int(row["count"])
    return counts


def rows_frame(spark: SparkSession, rows: list[tuple[int, str, str, str]]) -> DataFrame:
    return spark.createDataFrame(rows, schema=ROW_SCHEMA)

"""Comprehend active learning, part 2: the classify API, implicit and explicit feedback, human
review through Amazon A2I, and reviewed answers turned into training rows for part 1."""

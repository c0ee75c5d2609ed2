"""Rekognition Custom Labels batch inference: label images while the model runs, then stop it.

`process_images` is the SQS consumer the workflow enables only while the model is RUNNING;
`labelling` is its domain code.
"""

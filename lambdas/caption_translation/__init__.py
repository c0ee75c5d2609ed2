"""Caption translation: WebVTT/SRT files translated with Amazon Translate.

Handler modules (`start_batch`, `prepare_batch`, `translate_realtime`, `rebuild_outputs`) are thin
adapters over the domain modules (`batches`, `planning`, `translation`), which take typed values
and never read the environment.
"""

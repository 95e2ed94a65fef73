"""Audio/subtitle domain: media -> WAV clip (``media``), vocal isolation (``separation``),
transcripts (``transcript``), glossary (``glossary``) and SRT/VTT subtitles (``subtitles``).

Plain functions and dataclasses: no config, no printing. Heavy imports (numpy, scipy, soundfile,
torch, demucs) happen inside the functions that need them, so that ``transcript``, ``glossary``
and ``subtitles`` stay pure Python.
"""

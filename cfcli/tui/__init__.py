"""The Textual picker behind `cf "PROMPT"` (imported only when it runs: textual is not needed
to train or to generate without a terminal)."""

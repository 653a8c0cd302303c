//! Placeholder: filled in by the extract work.

"""Natural-language processing tasks (text classification, translation, NER, QA)."""

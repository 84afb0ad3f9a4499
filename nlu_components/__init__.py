"""Custom Rasa NLU components for Vietnamese.

``nlu_components.vi_tokenizer.VietnameseTokenizer`` is the Rasa component (imports Rasa);
``nlu_components.normalize`` is dependency-free and shared with the actions server. Nothing is
imported here so that importing ``nlu_components.normalize`` does not pull in Rasa.
"""

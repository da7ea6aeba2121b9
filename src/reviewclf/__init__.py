"""reviewclf: train a review-sentiment classifier, export one portable bundle, serve it without torch."""

__version__ = "0.1.0"

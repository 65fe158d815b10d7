"""The published registry as consumers see it: persons with their links, id redirects,
exports, and the grants that decide how much personal data a caller sees."""

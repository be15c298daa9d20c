"""SQL of the code → name lookups (layers/lookups.py): departments, categories, dispute classes seen, departments seen."""

from __future__ import annotations

CATEGORY_NAMES = "SELECT code, name, dispute_class FROM categories"
DEPARTMENT_NAMES = "SELECT code, name FROM departments ORDER BY code"
DISPUTE_CLASSES_SEEN = "SELECT DISTINCT dispute_class FROM events WHERE is_dispute AND dispute_class IS NOT NULL"
DEPTS_SEEN = "SELECT DISTINCT dept FROM events ORDER BY dept"

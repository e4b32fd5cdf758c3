"""Certification reports: HTML, JSON, JUnit and Allure (issue 4)."""

"""Orderflow's shared contract and business rules.

Pure: standard library and pydantic only, so workflow code can import it inside
``workflow.unsafe.imports_passed_through()`` and the API, activities and tests share one
definition of every status, input and result.
"""

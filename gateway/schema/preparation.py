"""A request's operation made ready to execute: parsed, validated and checked.

One Strawberry extension does what ParserCache, ValidationCache, DisableIntrospection and
the query analysis did as four: Strawberry makes every extension per request and enters
each one's hooks through context managers at four stages, and four extensions cost about
a tenth of a small query's CPU. The work is the same: each query text is parsed once and
each document validated once (LRU caches shared by the app's requests, as Strawberry's
own extensions keep them), and a valid operation's analysis is cached by what it reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

from graphql import DocumentNode, GraphQLError, GraphQLSchema, parse
from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from gateway.config import LimitSettings
from gateway.context import RequestContext
from gateway.schema.analysis import AnalysisCache, check
from gateway.telemetry.middleware import note_document

Validate = Callable[
    [GraphQLSchema, DocumentNode, tuple[type[ASTValidationRule], ...]], list[GraphQLError]
]


class QueryCaches:
    """Parses, validations and analyses kept across requests (bounded)."""

    def __init__(self, maxsize: int = 256) -> None:
        self.parse: Callable[..., DocumentNode] = lru_cache(maxsize=maxsize)(parse)
        # Keyed by the document object, which the parse cache hands out again.
        self.validate: Validate = lru_cache(maxsize=maxsize)(validate_document)
        self.analyses = AnalysisCache(maxsize)


class PrepareOperation(SchemaExtension):
    """Parse (cached), validate (cached; introspection refused unless allowed), then
    scopes and limits: an operation over a limit never reaches a resolver."""

    def __init__(
        self, limits: LimitSettings, *, introspection: bool, caches: QueryCaches | None
    ) -> None:
        super().__init__()
        self.limits, self.introspection, self.caches = limits, introspection, caches

    def on_parse(self) -> Iterator[None]:
        ec = self.execution_context
        if self.caches is not None and ec.query:
            ec.graphql_document = self.caches.parse(ec.query, **ec.parse_options)
        yield  # without caches Strawberry parses

    def on_validate(self) -> Iterator[None]:
        ec = self.execution_context
        if not self.introspection:
            ec.validation_rules = (*ec.validation_rules, NoSchemaIntrospectionCustomRule)
        assert ec.graphql_document is not None
        # the operationName as sent (the public property falls back to the first name)
        note_document(ec.graphql_document, ec._provided_operation_name)
        validate = self.caches.validate if self.caches is not None else validate_document
        ec.pre_execution_errors = validate(
            ec.schema._schema, ec.graphql_document, ec.validation_rules
        )
        ctx: Any = ec.context
        if ec.pre_execution_errors == [] and isinstance(ctx, RequestContext):
            problem = check(ec, ctx, self.limits, self.caches.analyses if self.caches else None)
            if problem is not None:
                ec.pre_execution_errors = [GraphQLError(problem.message, original_error=problem)]
        yield

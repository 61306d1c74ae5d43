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
from graphql.validation import (
    ASTValidationRule,
    NoSchemaIntrospectionCustomRule,
    specified_rules,
)
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from gateway.config import LimitSettings
from gateway.context import RequestContext
from gateway.persisted import persisted_document
from gateway.schema.analysis import AnalysisCache, check

Validate = Callable[
    [GraphQLSchema, DocumentNode, tuple[type[ASTValidationRule], ...]], list[GraphQLError]
]


def validate_operation(
    schema: GraphQLSchema,
    document: DocumentNode,
    rules: tuple[type[ASTValidationRule], ...] = tuple(specified_rules),
    *,
    introspection: bool,
    validate: Validate = validate_document,
) -> list[GraphQLError]:
    """The one validation of every document: a request's, and a persisted manifest's at
    start-up (introspection refused unless allowed)."""
    if not introspection:
        rules = (*rules, NoSchemaIntrospectionCustomRule)
    return validate(schema, document, rules)


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
        known = persisted_document(ec.operation_extensions)
        if known is not None:  # parsed once per hash, however it is cached
            ec.graphql_document = known
        elif self.caches is not None and ec.query:
            ec.graphql_document = self.caches.parse(ec.query, **ec.parse_options)
        yield  # without caches Strawberry parses

    def on_validate(self) -> Iterator[None]:
        ec = self.execution_context
        assert ec.graphql_document is not None
        ec.pre_execution_errors = validate_operation(
            ec.schema._schema,
            ec.graphql_document,
            ec.validation_rules,
            introspection=self.introspection,
            validate=self.caches.validate if self.caches is not None else validate_document,
        )
        ctx: Any = ec.context
        if ec.pre_execution_errors == [] and isinstance(ctx, RequestContext):
            problem = check(ec, ctx, self.limits, self.caches.analyses if self.caches else None)
            if problem is not None:
                ec.pre_execution_errors = [GraphQLError(problem.message, original_error=problem)]
        yield

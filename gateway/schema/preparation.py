"""A request's operation made ready to execute: parsed, validated and checked.

:class:`Preparation` does what ParserCache, ValidationCache, DisableIntrospection and the
query analysis did as four Strawberry extensions, and GatewaySchema.execute calls it
directly: Strawberry makes every extension per request and enters each one's hooks
through context managers at four stages, work repeated for every request whatever it
asks (measured in bench/README.md). The work is the same: each
query text is parsed once and each document validated once (LRU caches shared by the
app's requests), and a valid operation's analysis is cached by what it reads.

With introspection off, no error suggests a name the client did not write: graphql-core's
"Did you mean ...?" would hand the schema out one guess at a time (Clairvoyance rebuilds
most of it so). Validation here and variable coercion in the executor both leave them out
(``hide_suggestions``). Directives are counted before validation: each unknown one is
an error of its own, so hundreds of them were hundreds of errors' work; the errors of a
document under the limit are merged by message and bounded (``error_list``), on every
path that validates (POST, GET, /export, persisted documents).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

from graphql import DocumentNode, GraphQLError, GraphQLSchema, parse, validate
from graphql.validation import (
    ASTValidationRule,
    NoSchemaIntrospectionCustomRule,
    specified_rules,
)
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule
from strawberry.types import ExecutionContext

from gateway.compat.private import core_schema, provided_operation_name
from gateway.config import LimitSettings
from gateway.context import RequestContext
from gateway.persisted import persisted_document
from gateway.schema.analysis import AnalysisCache, TooComplex, check, count_directives
from gateway.schema.error_list import merged_errors
from gateway.telemetry.middleware import note_document

Rules = tuple[type[ASTValidationRule], ...]
Validate = Callable[[GraphQLSchema, DocumentNode, Rules, bool], list[GraphQLError]]


def validate_document(
    schema: GraphQLSchema, document: DocumentNode, rules: Rules, hide_suggestions: bool
) -> list[GraphQLError]:
    """Strawberry's validation (its two rules added), suggestions left out when asked;
    identical errors merged into one and the list bounded (``merged_errors``)."""
    rules = (*rules, MaybeNullValidationRule, OneOfInputValidationRule)
    errors = validate(schema, document, rules, hide_suggestions=hide_suggestions)
    for error in errors:
        _unread_literal(error)
    if hide_suggestions:
        for error in errors:
            # graphql-core's hide_suggestions leaves one in: "Field 'order' of type
            # 'Order' must have a selection of subfields. Did you mean 'order { ... }'?"
            error.message = _HINT.sub("", error.message)
    return merged_errors(errors)


def _unread_literal(error: GraphQLError) -> None:
    """A literal a scalar raised a plain exception on is the document's fault, not the
    gateway's: an Int of more than 4,300 digits makes Python's int() refuse. graphql-core
    keeps that exception as the error's original, which would make it INTERNAL; here it
    becomes a validation error like an Int out of range, without Python's own words."""
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return
    head, found, _ = error.message.partition(", but encountered error")
    error.message = f"{head}: the literal cannot be read as one" if found else error.message
    error.original_error = None


_HINT = re.compile(r" ?Did you mean [^?]*\?")


def validate_operation(
    schema: GraphQLSchema,
    document: DocumentNode,
    rules: Rules = tuple(specified_rules),
    *,
    introspection: bool,
    validate: Validate = validate_document,
) -> list[GraphQLError]:
    """The one validation of every document: a request's, and a persisted manifest's at
    start-up (introspection refused, and no name suggested, unless introspection is on)."""
    if not introspection:
        rules = (*rules, NoSchemaIntrospectionCustomRule)
    return validate(schema, document, rules, not introspection)


class Validations:
    """``validate_document`` kept by the document object's identity, which the parse
    cache (and a persisted document) hands out again: an ``lru_cache`` keyed by the
    document hashed its whole AST at every request (graphql-core's ``Node.__hash__``
    walks every node). Each entry holds the schema and the document it was made for, so
    no id in a key can be reused while the key is kept. Bounded: emptied when full."""

    def __init__(self, maxsize: int = 256) -> None:
        self.maxsize = maxsize
        self._items: dict[
            tuple[int, int, Rules, bool], tuple[GraphQLSchema, DocumentNode, list[GraphQLError]]
        ] = {}

    def __call__(
        self, schema: GraphQLSchema, document: DocumentNode, rules: Rules, hide_suggestions: bool
    ) -> list[GraphQLError]:
        key = (id(schema), id(document), rules, hide_suggestions)
        found = self._items.get(key)
        if found is not None:
            return found[2]
        errors = validate_document(schema, document, rules, hide_suggestions)
        if len(self._items) >= self.maxsize:
            self._items.clear()
        self._items[key] = (schema, document, errors)
        return errors

    def __len__(self) -> int:
        return len(self._items)


class QueryCaches:
    """Parses, validations and analyses kept across requests (bounded)."""

    def __init__(self, maxsize: int = 256) -> None:
        self.parse: Callable[..., DocumentNode] = lru_cache(maxsize=maxsize)(parse)
        self.validate: Validate = Validations(maxsize)
        self.analyses = AnalysisCache(maxsize)
        self.maxsize = maxsize
        self._directives: dict[str, int] = {}

    def directives(self, query: str | None, document: DocumentNode) -> int:
        """``count_directives`` kept by query text: a document's hash walks all of it."""
        if query is None:
            return count_directives(document)
        found = self._directives.get(query)
        if found is None:
            if len(self._directives) >= self.maxsize:
                self._directives.clear()
            found = self._directives[query] = count_directives(document)
        return found


class Preparation:
    """Parse (cached), count directives, validate (cached; introspection refused and
    suggestions left out unless introspection is allowed), then scopes and limits: an
    operation over a limit never reaches a resolver. Called by GatewaySchema.execute
    for each request, and by :class:`PrepareOperation` on Strawberry's other paths."""

    def __init__(
        self, limits: LimitSettings, *, introspection: bool, caches: QueryCaches | None
    ) -> None:
        self.limits, self.introspection, self.caches = limits, introspection, caches

    def parse(self, ec: ExecutionContext) -> None:
        """Sets ``ec.graphql_document`` (raises GraphQLError for a syntax error)."""
        known = persisted_document(ec.operation_extensions)
        if known is not None:  # parsed once per hash, however it is cached
            ec.graphql_document = known
        elif self.caches is not None and ec.query:
            ec.graphql_document = self.caches.parse(ec.query, **ec.parse_options)
        elif ec.query:
            ec.graphql_document = parse(ec.query, **ec.parse_options)

    def validate(self, ec: ExecutionContext) -> list[GraphQLError]:
        """Sets and returns ``ec.pre_execution_errors`` (empty: the operation may run)."""
        assert ec.graphql_document is not None
        document = ec.graphql_document
        # the operationName as sent (the public property falls back to the first name)
        note_document(document, provided_operation_name(ec))
        if self.caches is not None:
            directives = self.caches.directives(ec.query, document)
        else:
            directives = count_directives(document)
        if directives > self.limits.max_directives:
            over = TooComplex("directives", self.limits.max_directives, directives)
            ec.pre_execution_errors = [GraphQLError(over.message, original_error=over)]
            return ec.pre_execution_errors
        ec.pre_execution_errors = validate_operation(
            core_schema(ec.schema),
            document,
            ec.validation_rules,
            introspection=self.introspection,
            validate=self.caches.validate if self.caches is not None else validate_document,
        )
        ctx: Any = ec.context
        if ec.pre_execution_errors == [] and isinstance(ctx, RequestContext):
            problem = check(ec, ctx, self.limits, self.caches.analyses if self.caches else None)
            if problem is not None:
                ec.pre_execution_errors = [GraphQLError(problem.message, original_error=problem)]
        return ec.pre_execution_errors


class PrepareOperation(SchemaExtension):
    """:class:`Preparation` as a Strawberry extension, for Strawberry's own execution
    paths (GatewaySchema.execute calls it directly)."""

    def __init__(self, preparation: Preparation) -> None:
        super().__init__()
        self.preparation = preparation

    def on_parse(self) -> Iterator[None]:
        self.preparation.parse(self.execution_context)
        yield

    def on_validate(self) -> Iterator[None]:
        self.preparation.validate(self.execution_context)
        yield

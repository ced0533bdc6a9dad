"""Emulator of a Databricks SQL warehouse's Thrift endpoint, as databricks-sql-connector uses it.

Protocol emulated: the HiveServer2/Spark ``TCLIService`` Thrift API, binary protocol, POSTed over
HTTPS to the warehouse ``http_path`` with ``Authorization: Bearer <token>`` — exactly what
``databricks.sql.connect(...)`` speaks (``ThriftDatabricksClient``). The real generated
``TCLIService.Processor`` from the connector decodes requests and encodes answers, so the bytes
on the wire are the connector's own. Calls implemented: OpenSession, ExecuteStatement (async,
no direct results, so the client polls), GetOperationStatus, GetResultSetMetadata, FetchResults
(Arrow IPC batches), CloseOperation, CloseSession. Any other path (feature flags, telemetry)
answers 404.

SQL understood (the few statements a Databricks *reader* of focusflow's tables needs):
``CREATE TABLE IF NOT EXISTS <c>.<s>.<t> USING DELTA LOCATION '<uri>'`` registers an external
table; ``SELECT ...`` over registered tables runs in DuckDB against the Delta table read with
delta-rs (so the test sees what Databricks would read at that location). Anything else fails
with an ERROR_STATE, like an unsupported statement would.

Recorded in ``state``: every Thrift call name, every statement with its bound parameters and
session namespace, the Authorization failures, and the registered tables (name -> location).
"""

from __future__ import annotations

import re
import ssl
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import duckdb
import pyarrow as pa
from databricks.sql.thrift_api.TCLIService import TCLIService, ttypes
from deltalake import DeltaTable
from thrift.protocol import TBinaryProtocol
from thrift.transport import TTransport

OK = ttypes.TStatus(statusCode=ttypes.TStatusCode.SUCCESS_STATUS)
_CREATE = re.compile(
    r"\s*CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+(?P<name>`[^`]+`\.`[^`]+`\.`[^`]+`)\s+"
    r"USING\s+DELTA\s+LOCATION\s+'(?P<location>[^']*)'\s*",
    re.IGNORECASE,
)
_NAME = re.compile(r"`([^`]+)`\.`([^`]+)`\.`([^`]+)`|\b(\w+)\.(\w+)\.(\w+)\b")


@dataclass
class Statement:
    sql: str
    parameters: dict[str, str | None]
    catalog: str | None
    schema: str | None


@dataclass
class WarehouseState:
    token: str = "dapi-test-token"
    storage_options: dict[str, str] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    statements: list[Statement] = field(default_factory=list)
    tables: dict[str, str] = field(default_factory=dict)
    unauthorized: int = 0
    sessions: dict[bytes, ttypes.TNamespace | None] = field(default_factory=dict)
    results: dict[bytes, pa.Table | str] = field(default_factory=dict)


class _Handler:
    """The TCLIService calls, answered from ``WarehouseState``."""

    def __init__(self, state: WarehouseState) -> None:
        self.state = state

    def OpenSession(self, req: Any) -> Any:  # noqa: N802 - Thrift method names
        self.state.calls.append("OpenSession")
        guid = uuid.uuid4().bytes
        self.state.sessions[guid] = req.initialNamespace
        return ttypes.TOpenSessionResp(
            status=OK,
            serverProtocolVersion=ttypes.TProtocolVersion.SPARK_CLI_SERVICE_PROTOCOL_V7,
            sessionHandle=ttypes.TSessionHandle(
                sessionId=ttypes.THandleIdentifier(guid=guid, secret=uuid.uuid4().bytes)),
            initialNamespace=req.initialNamespace, canUseMultipleCatalogs=True,
        )

    def ExecuteStatement(self, req: Any) -> Any:  # noqa: N802
        self.state.calls.append("ExecuteStatement")
        namespace = self.state.sessions.get(req.sessionHandle.sessionId.guid)
        parameters = {
            p.name: (p.value.stringValue if p.value else None) for p in (req.parameters or [])
        }
        self.state.statements.append(Statement(
            req.statement, parameters, namespace and namespace.catalogName,
            namespace and namespace.schemaName,
        ))
        guid = uuid.uuid4().bytes
        self.state.results[guid] = self._run(req.statement)
        return ttypes.TExecuteStatementResp(status=OK, operationHandle=ttypes.TOperationHandle(
            operationId=ttypes.THandleIdentifier(guid=guid, secret=uuid.uuid4().bytes),
            operationType=ttypes.TOperationType.EXECUTE_STATEMENT, hasResultSet=True,
        ))

    def _run(self, statement: str) -> pa.Table | str:
        created = _CREATE.fullmatch(statement)
        if created:
            self.state.tables.setdefault(created["name"].replace("`", ""), created["location"])
            return pa.table({})
        if not statement.lstrip().upper().startswith("SELECT"):
            return f"[PARSE_SYNTAX_ERROR] emulator does not support: {statement[:60]}"
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        missing: list[str] = []

        def view(match: re.Match[str]) -> str:
            """Swap a registered three-part name for the Delta table read at its location."""
            name = ".".join(g for g in match.groups() if g)
            location = self.state.tables.get(name)
            if location is None:
                missing.append(name)
                return match[0]
            alias = f"t{len(con.execute('SHOW TABLES').fetchall())}"
            table = DeltaTable(location, storage_options=self.state.storage_options or None)
            con.register(alias, table.to_pyarrow_dataset())
            return alias

        try:
            rewritten = _NAME.sub(view, statement)
            if missing:
                return f"[TABLE_OR_VIEW_NOT_FOUND] {missing[0]}"
            result: pa.Table = con.sql(rewritten).to_arrow_table()
        except duckdb.Error as exc:
            return str(exc)
        finally:
            con.close()
        return result

    def GetOperationStatus(self, req: Any) -> Any:  # noqa: N802
        self.state.calls.append("GetOperationStatus")
        result = self.state.results[req.operationHandle.operationId.guid]
        if isinstance(result, str):
            return ttypes.TGetOperationStatusResp(
                status=OK, operationState=ttypes.TOperationState.ERROR_STATE,
                errorMessage=result, displayMessage=result, sqlState="42000")
        return ttypes.TGetOperationStatusResp(
            status=OK, operationState=ttypes.TOperationState.FINISHED_STATE, hasResultSet=True)

    def GetResultSetMetadata(self, req: Any) -> Any:  # noqa: N802
        self.state.calls.append("GetResultSetMetadata")
        return _metadata(self._table(req.operationHandle))

    def FetchResults(self, req: Any) -> Any:  # noqa: N802
        self.state.calls.append("FetchResults")
        table = self._table(req.operationHandle)
        batches = [
            ttypes.TSparkArrowBatch(batch=b.serialize().to_pybytes(), rowCount=b.num_rows)
            for b in table.combine_chunks().to_batches()
        ]
        return ttypes.TFetchResultsResp(
            status=OK, hasMoreRows=False,
            results=ttypes.TRowSet(startRowOffset=0, rows=[], arrowBatches=batches),
            resultSetMetadata=_metadata(table),
        )

    def CloseOperation(self, req: Any) -> Any:  # noqa: N802
        self.state.calls.append("CloseOperation")
        self.state.results.pop(req.operationHandle.operationId.guid, None)
        return ttypes.TCloseOperationResp(status=OK)

    def CloseSession(self, req: Any) -> Any:  # noqa: N802
        self.state.calls.append("CloseSession")
        self.state.sessions.pop(req.sessionHandle.sessionId.guid, None)
        return ttypes.TCloseSessionResp(status=OK)

    def _table(self, handle: Any) -> pa.Table:
        result = self.state.results[handle.operationId.guid]
        assert isinstance(result, pa.Table)
        return result


_TYPES = [
    (pa.types.is_boolean, ttypes.TTypeId.BOOLEAN_TYPE),
    (pa.types.is_integer, ttypes.TTypeId.BIGINT_TYPE),
    (pa.types.is_floating, ttypes.TTypeId.DOUBLE_TYPE),
    (pa.types.is_decimal, ttypes.TTypeId.DECIMAL_TYPE),
    (pa.types.is_timestamp, ttypes.TTypeId.TIMESTAMP_TYPE),
]


def _column(index: int, f: pa.Field) -> Any:
    type_id = next((t for test, t in _TYPES if test(f.type)), ttypes.TTypeId.STRING_TYPE)
    qualifiers = None
    if type_id == ttypes.TTypeId.DECIMAL_TYPE:
        qualifiers = ttypes.TTypeQualifiers(qualifiers={
            "precision": ttypes.TTypeQualifierValue(i32Value=f.type.precision),
            "scale": ttypes.TTypeQualifierValue(i32Value=f.type.scale),
        })
    entry = ttypes.TTypeEntry(primitiveEntry=ttypes.TPrimitiveTypeEntry(
        type=type_id, typeQualifiers=qualifiers))
    return ttypes.TColumnDesc(columnName=f.name, typeDesc=ttypes.TTypeDesc(types=[entry]),
                              position=index + 1)


def _metadata(table: pa.Table) -> Any:
    return ttypes.TGetResultSetMetadataResp(
        status=OK, resultFormat=ttypes.TSparkRowSetType.ARROW_BASED_SET, lz4Compressed=False,
        schema=ttypes.TTableSchema(columns=[_column(i, f) for i, f in enumerate(table.schema)]),
        arrowSchema=table.schema.serialize().to_pybytes(), isStagingOperation=False,
    )


class DatabricksSqlEmulator:
    """HTTPS server on 127.0.0.1 answering TCLIService calls on one warehouse ``http_path``."""

    def __init__(self, cert_file: str, key_file: str,
                 http_path: str = "/sql/1.0/warehouses/focusflow-test") -> None:
        self.http_path = http_path
        self.state = WarehouseState()
        emulator = self

        class Http(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path != emulator.http_path:
                    self._reply(404, b"")
                    return
                if self.headers.get("Authorization") != f"Bearer {emulator.state.token}":
                    emulator.state.unauthorized += 1
                    self._reply(401, b"")
                    return
                out = TTransport.TMemoryBuffer()
                processor = TCLIService.Processor(_Handler(emulator.state))
                processor.process(TBinaryProtocol.TBinaryProtocol(TTransport.TMemoryBuffer(body)),
                                  TBinaryProtocol.TBinaryProtocol(out))
                self._reply(200, out.getvalue(), "application/x-thrift")

            def do_GET(self) -> None:
                self._reply(404, b"")

            def _reply(self, code: int, body: bytes, kind: str = "text/plain") -> None:
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                """Quiet: the state records what matters."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Http)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> DatabricksSqlEmulator:
        self._thread.start()
        return self

    def reset(self) -> WarehouseState:
        self.state = WarehouseState()
        return self.state

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

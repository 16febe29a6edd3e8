/*
 * pipeline_trigger.c — ai_gateway.pipeline_enqueue(), the trigger function
 * behind every pipeline's queueing triggers (created by
 * ai_gateway.pipeline_create_triggers): the whole of a pipeline's cost to
 * the application's writers, so it is kept small.
 *
 * Trigger arguments: the pipeline's id, then the SQL of the row key and of
 * the hash of the source columns over the row alias "n", as
 * ai_gateway.pipeline_key_sql / pipeline_hash_sql write them — the very
 * text the worker hashes with (pipeline_compute), so the hash the worker
 * compares stays the same function of the source.
 *
 * Fired AFTER INSERT FOR EACH STATEMENT with a NEW transition table (one
 * call per INSERT or COPY, whatever its row count; FOR EACH ROW on a
 * partitioned table, whose statement triggers miss an INSERT naming a
 * partition), or AFTER UPDATE FOR EACH ROW (its WHEN clause lets through
 * only updates that change a source column).  For each new row it appends
 * (pipeline, the pipeline's table, key, hash) to ai_gateway.pipeline_queue
 * in the writer's transaction.  The table is the one the trigger fired on,
 * or for a partition's (cloned) trigger the partitioned table it was
 * cloned from — taken from the catalogs, never from an argument, so it
 * survives a dump and restore.
 *
 * What makes it cheap: the two expressions are parsed once per session and
 * trigger (with search_path pinned to pg_catalog), kept as planned
 * expression trees, and only compiled (ExecInitExpr) per statement; the
 * queue row is inserted directly (ExecSimpleRelationInsert: the table's
 * defaults, constraints and indexes, as an INSERT would) rather than
 * through plpgsql, SPI and a planned INSERT with its row-level security
 * check.  That policy only lets a writer queue rows of a table it writes:
 * here the table is always the one written (or its partitioned parent).
 * The cache is dropped when a relation, type, cast or function changes
 * (invalidation callbacks); what a statement uses of it is copied first,
 * as any catalog access may run those callbacks.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_collate.h"
#include "parser/parse_expr.h"
#include "parser/parse_node.h"
#include "parser/parse_relation.h"
#include "parser/parser.h"
#include "rewrite/rewriteHandler.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"

#include "core/search_path.h"

PG_FUNCTION_INFO_V1(aig_pipeline_enqueue);

/* One trigger's parsed expressions (valid for the session until an invalidation). */
typedef struct TrigExprs
{
	Oid			tgoid;
	Oid			relid;
	Oid			source;			/* the pipeline's table: relid, or the partitioned table it cloned from */
	Expr	   *key;
	Expr	   *hash;
	struct TrigExprs *next;
} TrigExprs;

/* The queue's columns: where each value goes, and the defaults of the others. */
typedef struct QueueShape
{
	Oid			relid;
	int			natts;
	AttrNumber	att_pipeline,
				att_source,
				att_key,
				att_hash;
	Expr	  **defaults;		/* [natts]: NULL where none or set above */
} QueueShape;

static MemoryContext cache_cxt = NULL;
static TrigExprs *trig_cache = NULL;
static QueueShape *queue_shape = NULL;
static bool callbacks_registered = false;

/* Forget everything parsed (an invalidation: a type, a cast, a function or a relation changed). */
static void
reset_cache(void)
{
	if (cache_cxt != NULL)
		MemoryContextReset(cache_cxt);
	trig_cache = NULL;
	queue_shape = NULL;
}

static void
relcache_changed(Datum arg, Oid relid)
{
	if (!OidIsValid(relid) || (queue_shape != NULL && queue_shape->relid == relid))
	{
		reset_cache();
		return;
	}
	for (TrigExprs *t = trig_cache; t != NULL; t = t->next)
		if (t->relid == relid)
		{
			reset_cache();
			return;
		}
}

static void
syscache_changed(Datum arg, int cacheid, uint32 hashvalue)
{
	reset_cache();
}

static void
ensure_cache(void)
{
	if (cache_cxt == NULL)
		cache_cxt = AllocSetContextCreate(CacheMemoryContext, "ai_gateway pipeline triggers",
										  ALLOCSET_SMALL_SIZES);
	if (!callbacks_registered)
	{
		CacheRegisterRelcacheCallback(relcache_changed, (Datum) 0);
		CacheRegisterSyscacheCallback(TYPEOID, syscache_changed, (Datum) 0);
		CacheRegisterSyscacheCallback(PROCOID, syscache_changed, (Datum) 0);
		CacheRegisterSyscacheCallback(CASTSOURCETARGET, syscache_changed, (Datum) 0);
		callbacks_registered = true;
	}
}

/*
 * The table whose pipeline this trigger serves: a partition's trigger is a
 * clone of its partitioned table's (pg_trigger.tgparentid, followed up).
 */
static Oid
trigger_source(Oid tgoid)
{
	Relation	tgrel = table_open(TriggerRelationId, AccessShareLock);
	Oid			relid = InvalidOid;

	for (;;)
	{
		ScanKeyData key;
		SysScanDesc scan;
		HeapTuple	tup;
		Form_pg_trigger tg;

		ScanKeyInit(&key, Anum_pg_trigger_oid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(tgoid));
		scan = systable_beginscan(tgrel, TriggerOidIndexId, true, NULL, 1, &key);
		tup = systable_getnext(scan);
		if (!HeapTupleIsValid(tup))
			elog(ERROR, "could not find trigger %u", tgoid);
		tg = (Form_pg_trigger) GETSTRUCT(tup);
		relid = tg->tgrelid;
		tgoid = tg->tgparentid;
		systable_endscan(scan);
		if (!OidIsValid(tgoid))
			break;
	}
	table_close(tgrel, AccessShareLock);
	return relid;
}

/*
 * Parse and plan "SELECT <key>, <hash>" over `rel` AS n, search_path
 * pinned; cached in cache_cxt with `source`, the pipeline's table.
 */
static TrigExprs *
parse_trigger_exprs(Oid tgoid, Relation rel, Oid source, const char *key_sql, const char *hash_sql)
{
	char	   *sql = psprintf("SELECT %s, %s", key_sql, hash_sql);
	Expr	   *exprs[2];
	int			level = aig_pin_search_path();
	TrigExprs  *t;
	MemoryContext old;

	PG_TRY();
	{
		List	   *raw = raw_parser(sql, RAW_PARSE_DEFAULT);
		RawStmt    *rs;
		SelectStmt *sel;
		ParseState *pstate;
		ParseNamespaceItem *nsitem;
		int			i = 0;
		ListCell   *lc;

		if (list_length(raw) != 1)
			elog(ERROR, "ai_gateway.pipeline_enqueue: bad trigger arguments");
		rs = linitial_node(RawStmt, raw);
		sel = (SelectStmt *) rs->stmt;
		if (!IsA(sel, SelectStmt) || list_length(sel->targetList) != 2 || sel->fromClause != NIL)
			elog(ERROR, "ai_gateway.pipeline_enqueue: bad trigger arguments");
		pstate = make_parsestate(NULL);
		pstate->p_sourcetext = sql;
		nsitem = addRangeTableEntryForRelation(pstate, rel, AccessShareLock,
											   makeAlias("n", NIL), false, true);
		addNSItemToQuery(pstate, nsitem, false, true, true);
		foreach(lc, sel->targetList)
		{
			ResTarget  *rt = lfirst_node(ResTarget, lc);
			Node	   *e = transformExpr(pstate, rt->val, EXPR_KIND_SELECT_TARGET);

			assign_expr_collations(pstate, e);
			exprs[i++] = expression_planner((Expr *) e);
		}
		free_parsestate(pstate);
	}
	PG_FINALLY();
	{
		aig_restore_search_path(level);
	}
	PG_END_TRY();

	/* cached for the session; the caller gets its own (the cache may be reset under it) */
	old = MemoryContextSwitchTo(cache_cxt);
	t = palloc0(sizeof(TrigExprs));
	t->tgoid = tgoid;
	t->relid = RelationGetRelid(rel);
	t->source = source;
	t->key = copyObject(exprs[0]);
	t->hash = copyObject(exprs[1]);
	t->next = trig_cache;
	trig_cache = t;
	MemoryContextSwitchTo(old);
	t = palloc0(sizeof(TrigExprs));
	t->tgoid = tgoid;
	t->relid = RelationGetRelid(rel);
	t->source = source;
	t->key = exprs[0];
	t->hash = exprs[1];
	return t;
}

/*
 * A trigger's expressions, in the current memory context: copied from the
 * cache (nothing in between may reset it), else parsed (and cached).
 */
static TrigExprs *
trigger_exprs(Trigger *tg, Relation rel)
{
	for (TrigExprs *c = trig_cache; c != NULL; c = c->next)
		if (c->tgoid == tg->tgoid && c->relid == RelationGetRelid(rel))
		{
			TrigExprs  *t = palloc0(sizeof(TrigExprs));

			*t = *c;
			t->key = copyObject(c->key);
			t->hash = copyObject(c->hash);
			t->next = NULL;
			return t;
		}
	return parse_trigger_exprs(tg->tgoid, rel,
							   rel->rd_rel->relispartition ? trigger_source(tg->tgoid) : RelationGetRelid(rel),
							   tg->tgargs[1], tg->tgargs[2]);
}

/* A copy of `s` in the current memory context (or in `cxt`). */
static QueueShape *
copy_queue_shape(const QueueShape *s, MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	QueueShape *c = palloc(sizeof(QueueShape));

	*c = *s;
	c->defaults = palloc0(sizeof(Expr *) * s->natts);
	for (int i = 0; i < s->natts; i++)
		c->defaults[i] = copyObject(s->defaults[i]);
	MemoryContextSwitchTo(old);
	return c;
}

/*
 * The queue's column positions and defaults (sequence, attempts,
 * queued_at), in the current memory context: copied from the cache, else
 * read from the relation (and cached).
 */
static QueueShape *
queue_shape_of(Relation qrel)
{
	TupleDesc	desc = RelationGetDescr(qrel);
	QueueShape *s;

	if (queue_shape != NULL && queue_shape->relid == RelationGetRelid(qrel))
		return copy_queue_shape(queue_shape, CurrentMemoryContext);
	s = palloc0(sizeof(QueueShape));
	s->relid = RelationGetRelid(qrel);
	s->natts = desc->natts;
	s->defaults = palloc0(sizeof(Expr *) * desc->natts);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute a = TupleDescAttr(desc, i);
		const char *name = NameStr(a->attname);

		if (a->attisdropped)
			continue;
		if (strcmp(name, "pipeline") == 0)
			s->att_pipeline = a->attnum;
		else if (strcmp(name, "source") == 0)
			s->att_source = a->attnum;
		else if (strcmp(name, "key") == 0)
			s->att_key = a->attnum;
		else if (strcmp(name, "hash") == 0)
			s->att_hash = a->attnum;
		else
		{
			Node	   *d = build_column_default(qrel, a->attnum);

			if (d != NULL)
				s->defaults[i] = expression_planner((Expr *) d);
		}
	}
	if (s->att_pipeline == 0 || s->att_source == 0 || s->att_key == 0 || s->att_hash == 0)
		elog(ERROR, "ai_gateway.pipeline_queue lacks a column the pipeline triggers write");
	queue_shape = copy_queue_shape(s, cache_cxt);
	return s;
}

/* Per-statement state: the queue opened for inserting, the expressions compiled. */
typedef struct Enqueuer
{
	EState	   *estate;
	ResultRelInfo *rri;
	TupleTableSlot *out;
	ExprState  *key;
	ExprState  *hash;
	ExprState **defaults;
	QueueShape	shape;			/* a copy (its defaults compiled below) */
	Datum		pipeline;
	Datum		source;
} Enqueuer;

/* Open the queue and its indexes (taking their locks, which may reset the cache). */
static void
enqueuer_open(Enqueuer *q, Relation qrel)
{
	MemoryContext old;

	q->estate = CreateExecutorState();
	q->estate->es_output_cid = GetCurrentCommandId(true);
	old = MemoryContextSwitchTo(q->estate->es_query_cxt);
	q->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(q->rri, qrel, 0, NULL, 0);
	ExecOpenIndices(q->rri, false);
	q->out = table_slot_create(qrel, NULL);
	MemoryContextSwitchTo(old);
}

/*
 * Compile the trigger's expressions and the queue's defaults, from copies
 * in the statement's memory: catalog lookups meanwhile (and evaluation,
 * which takes the sequence's lock) may reset the cache.
 */
static void
enqueuer_compile(Enqueuer *q, Trigger *tg, Relation rel, Relation qrel, int32 pipeline)
{
	MemoryContext old = MemoryContextSwitchTo(q->estate->es_query_cxt);
	TrigExprs  *t = trigger_exprs(tg, rel);
	QueueShape *s = queue_shape_of(qrel);

	q->shape = *s;
	q->key = ExecInitExpr(t->key, NULL);
	q->hash = ExecInitExpr(t->hash, NULL);
	q->defaults = palloc0(sizeof(ExprState *) * s->natts);
	for (int i = 0; i < s->natts; i++)
		if (s->defaults[i] != NULL)
			q->defaults[i] = ExecInitExpr(s->defaults[i], NULL);
	q->pipeline = Int32GetDatum(pipeline);
	q->source = ObjectIdGetDatum(t->source);
	MemoryContextSwitchTo(old);
}

/* Queue the row in `row` (a slot of the trigger's table). */
static void
enqueue_row(Enqueuer *q, TupleTableSlot *row)
{
	ExprContext *econtext = GetPerTupleExprContext(q->estate);
	TupleTableSlot *out = q->out;
	QueueShape *s = &q->shape;

	econtext->ecxt_scantuple = row;
	ExecClearTuple(out);
	for (int i = 0; i < s->natts; i++)
	{
		out->tts_isnull[i] = true;
		out->tts_values[i] = (Datum) 0;
		if (q->defaults[i] != NULL)
			out->tts_values[i] = ExecEvalExprSwitchContext(q->defaults[i], econtext, &out->tts_isnull[i]);
	}
	out->tts_values[s->att_pipeline - 1] = q->pipeline;
	out->tts_isnull[s->att_pipeline - 1] = false;
	out->tts_values[s->att_source - 1] = q->source;
	out->tts_isnull[s->att_source - 1] = false;
	out->tts_values[s->att_key - 1] = ExecEvalExprSwitchContext(q->key, econtext,
																 &out->tts_isnull[s->att_key - 1]);
	out->tts_values[s->att_hash - 1] = ExecEvalExprSwitchContext(q->hash, econtext,
																  &out->tts_isnull[s->att_hash - 1]);
	ExecStoreVirtualTuple(out);
	ExecSimpleRelationInsert(q->rri, q->estate, out);
	ResetPerTupleExprContext(q->estate);
}

static void
enqueuer_end(Enqueuer *q)
{
	ExecDropSingleTupleTableSlot(q->out);
	ExecCloseIndices(q->rri);
	FreeExecutorState(q->estate);
}

/* The trigger (header comment). */
Datum
aig_pipeline_enqueue(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Trigger    *tg;
	Relation	rel;
	Relation	qrel;
	Oid			qrelid;
	int32		pipeline;
	Enqueuer	q;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("ai_gateway.pipeline_enqueue() may only be called as a trigger")));
	tg = td->tg_trigger;
	rel = td->tg_relation;
	if (tg->tgnargs != 3 || !TRIGGER_FIRED_AFTER(td->tg_event) ||
		!(TRIGGER_FIRED_BY_INSERT(td->tg_event) || TRIGGER_FIRED_BY_UPDATE(td->tg_event)) ||
		(TRIGGER_FIRED_FOR_STATEMENT(td->tg_event) && td->tg_newtable == NULL))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("ai_gateway.pipeline_enqueue() must fire AFTER INSERT or UPDATE, per row or per statement with a NEW TABLE, with 3 arguments"),
				 errhint("Pipelines create their triggers themselves (ai_gateway.create_pipeline).")));
	pipeline = pg_strtoint32(tg->tgargs[0]);

	qrelid = get_relname_relid("pipeline_queue", get_namespace_oid("ai_gateway", false));
	if (!OidIsValid(qrelid))
		elog(ERROR, "ai_gateway.pipeline_queue does not exist");
	qrel = table_open(qrelid, RowExclusiveLock);
	enqueuer_open(&q, qrel);

	ensure_cache();
	enqueuer_compile(&q, tg, rel, qrel, pipeline);
	if (TRIGGER_FIRED_FOR_ROW(td->tg_event))
		enqueue_row(&q, TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newslot : td->tg_trigslot);
	else
	{
		TupleTableSlot *row = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsMinimalTuple);

		tuplestore_rescan(td->tg_newtable);
		while (tuplestore_gettupleslot(td->tg_newtable, true, false, row))
			enqueue_row(&q, row);
		ExecDropSingleTupleTableSlot(row);
	}
	enqueuer_end(&q);
	table_close(qrel, NoLock);
	return PointerGetDatum(NULL);
}

-- The store's schema as the builds before migrations created it (SQLModel create_all on PostgreSQL).
-- tests/test_store.py opens a database made from it with the new code.
CREATE TABLE audit_log (
	id SERIAL NOT NULL, 
	ts_ns INTEGER NOT NULL, 
	transport VARCHAR NOT NULL, 
	user_id VARCHAR NOT NULL, 
	chat_id VARCHAR NOT NULL, 
	role VARCHAR NOT NULL, 
	command VARCHAR NOT NULL, 
	args VARCHAR NOT NULL, 
	outcome VARCHAR NOT NULL, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_audit_log_ts_ns ON audit_log (ts_ns);
CREATE TABLE balance_snapshots (
	id SERIAL NOT NULL, 
	ts_ns INTEGER NOT NULL, 
	exchange VARCHAR NOT NULL, 
	asset VARCHAR NOT NULL, 
	free VARCHAR(64) NOT NULL, 
	total VARCHAR(64) NOT NULL, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_balance_snapshots_ts_ns ON balance_snapshots (ts_ns);
CREATE TABLE bot_state (
	key VARCHAR NOT NULL, 
	value VARCHAR NOT NULL, 
	updated_ns INTEGER NOT NULL, 
	PRIMARY KEY (key)
);
CREATE TABLE fills (
	id SERIAL NOT NULL, 
	exchange VARCHAR NOT NULL, 
	trade_id VARCHAR NOT NULL, 
	client_order_id VARCHAR NOT NULL, 
	strategy VARCHAR NOT NULL, 
	symbol VARCHAR NOT NULL, 
	side VARCHAR NOT NULL, 
	price VARCHAR(64) NOT NULL, 
	qty VARCHAR(64) NOT NULL, 
	fee VARCHAR(64) NOT NULL, 
	fee_asset VARCHAR NOT NULL, 
	liquidity VARCHAR NOT NULL, 
	ts_ns INTEGER NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (exchange, trade_id)
);
CREATE INDEX ix_fills_client_order_id ON fills (client_order_id);
CREATE INDEX ix_fills_strategy ON fills (strategy);
CREATE INDEX ix_fills_ts_ns ON fills (ts_ns);
CREATE TABLE orders (
	id SERIAL NOT NULL, 
	client_order_id VARCHAR NOT NULL, 
	strategy VARCHAR NOT NULL, 
	exchange VARCHAR NOT NULL, 
	symbol VARCHAR NOT NULL, 
	side VARCHAR NOT NULL, 
	order_type VARCHAR NOT NULL, 
	tif VARCHAR NOT NULL, 
	post_only BOOLEAN NOT NULL, 
	price VARCHAR(64), 
	qty VARCHAR(64) NOT NULL, 
	status VARCHAR NOT NULL, 
	exchange_order_id VARCHAR, 
	filled_qty VARCHAR(64) NOT NULL, 
	avg_fill_price VARCHAR(64), 
	fee VARCHAR(64) NOT NULL, 
	reason VARCHAR NOT NULL, 
	created_ns INTEGER NOT NULL, 
	updated_ns INTEGER NOT NULL, 
	PRIMARY KEY (id)
);
CREATE UNIQUE INDEX ix_orders_client_order_id ON orders (client_order_id);
CREATE INDEX ix_orders_status ON orders (status);
CREATE INDEX ix_orders_strategy ON orders (strategy);
CREATE TABLE risk_events (
	id SERIAL NOT NULL, 
	ts_ns INTEGER NOT NULL, 
	check_name VARCHAR NOT NULL, 
	strategy VARCHAR NOT NULL, 
	exchange VARCHAR NOT NULL, 
	symbol VARCHAR NOT NULL, 
	action VARCHAR NOT NULL, 
	reason VARCHAR NOT NULL, 
	details VARCHAR NOT NULL, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_risk_events_ts_ns ON risk_events (ts_ns);

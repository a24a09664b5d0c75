-- Monthly revenue per customer.
CREATE TABLE IF NOT EXISTS orders (
    id SERIAL PRIMARY KEY,
    customer_id INTEGER NOT NULL,
    amount NUMERIC(10, 2) NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT now()
);

SELECT customer_id, date_trunc('month', created_at) AS month, SUM(amount) AS revenue
FROM orders
GROUP BY customer_id, month
ORDER BY month, revenue DESC;

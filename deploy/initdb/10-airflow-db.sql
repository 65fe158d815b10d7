-- Airflow's metadata lives beside the hub's data, in its own database.
CREATE DATABASE airflow OWNER hub;

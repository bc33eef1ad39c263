ALTER TABLE products DROP INDEX products_sku_key;
